import type { FigureSet } from '../harness.js';
import { bootFigures } from './boot.js';
import { dmaFigures } from './dma.js';
import { dmabufFigures } from './dmabuf.js';
import { iovaFigures } from './iova.js';
import { pageAllocFigures } from './page-alloc.js';
import { pgtableFigures } from './pgtable.js';
import { physCopyFigures } from './phys-copy.js';

/** Every figure set, in the order they run. */
export const figureSets: readonly FigureSet[] = [
  bootFigures,
  pageAllocFigures,
  physCopyFigures,
  iovaFigures,
  pgtableFigures,
  dmaFigures,
  dmabufFigures,
];
