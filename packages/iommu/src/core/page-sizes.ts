/** The smallest page size of a bitmap (`__ffs(pgsize_bitmap)`); 0 for an empty bitmap. */
export const lowestPgsize = (bitmap: number): number => {
  for (let size = 1; size <= bitmap; size *= 2) if (Math.floor(bitmap / size) % 2 === 1) return size;
  return 0;
};

/** `a & b` of two `pgsize_bitmap`s (the sizes both support), exact above 2^32. */
export const commonPgsizes = (a: number, b: number): number => {
  let out = 0;
  for (let size = 1; size <= Math.min(a, b); size *= 2) {
    if (Math.floor(a / size) % 2 === 1 && Math.floor(b / size) % 2 === 1) out += size;
  }
  return out;
};
