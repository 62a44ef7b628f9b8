import type { FigureSet } from '../harness.js';

/** Every figure set, in the order they run. */
export const figureSets: readonly FigureSet[] = [];
