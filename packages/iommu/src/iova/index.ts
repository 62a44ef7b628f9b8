export { IOVA_ALLOC_FAILED, IovaDomain, type IovaRange } from './iova-domain.js';
export { IOVA_MAG_SIZE, IOVA_RANGE_CACHE_MAX_SIZE, MAX_GLOBAL_MAGS } from './iova-rcache.js';
export { DEFAULT_IOVA_TREE_LAYOUT, type IovaTreeLayout } from './iova-tree.js';
