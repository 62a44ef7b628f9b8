import type { FigureSet } from '../harness.js';
import { physCopyFigures } from './phys-copy.js';

/** Every figure set, in the order they run. */
export const figureSets: readonly FigureSet[] = [physCopyFigures];
