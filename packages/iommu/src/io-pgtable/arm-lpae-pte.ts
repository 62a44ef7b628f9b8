import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_PROT_MASK,
  IOMMU_READ,
  IOMMU_WRITE,
} from './prot.js';

/*
 * The VMSAv8-64 descriptor layout that drivers/iommu/io-pgtable-arm.c writes, split into the two
 * little-endian 32-bit words a descriptor occupies in memory: `lo` holds bits 0..31, `hi` bits 32..63.
 * Bit names follow the kernel's ARM_LPAE_PTE_* macros. Only the 4 KiB granule is modelled, so output
 * address bits 47:12 sit in place (lo bits 12..31, hi bits 0..15) with no 52-bit folding.
 */

/** Descriptor type field (bits 1:0): 0b11 is a table at levels 0–2 and a page at level 3. */
export const PTE_TYPE_MASK = 3;
/** Block descriptor (`ARM_LPAE_PTE_TYPE_BLOCK`), legal at levels 1 and 2 with a 4 KiB granule. */
export const PTE_TYPE_BLOCK = 1;
/** Table descriptor (`ARM_LPAE_PTE_TYPE_TABLE`) and, at level 3, page descriptor (`…_TYPE_PAGE`). */
export const PTE_TYPE_TABLE = 3;
/** The valid bit (`ARM_LPAE_PTE_VALID`): clear means the walk faults here. */
export const PTE_VALID = 1;

const ATTRINDX_SHIFT = 2;
/** MAIR slot indices the kernel programs for stage 1: normal non-cacheable, write-back, device. */
const MAIR_ATTR_IDX_NC = 0;
const MAIR_ATTR_IDX_CACHE = 1;
const MAIR_ATTR_IDX_DEV = 2;
const ATTRINDX_MASK_LO = 7 << ATTRINDX_SHIFT;
const AP_UNPRIV_LO = 1 << 6;
const AP_RDONLY_LO = 2 << 6;
const SH_OS_LO = 2 << 8;
const SH_IS_LO = 3 << 8;
const AF_LO = 1 << 10;
const NG_LO = 1 << 11;
/** XN is `3 << 53` (UXN and PXN): bits 21 and 22 of the high word. */
const XN_HI = 3 << 21;

/** Output-address bits 47:32, held in the high word's bits 15:0. */
export const PTE_ADDR_HI_MASK = 0xffff;

/**
 * The attribute bits `arm_lpae_prot_to_pte()` produces for an `ARM_64_LPAE_S1` table, split in words.
 * The kernel sets nG (IOMMU mappings belong to one address space), AP[2] read-only for read-without-
 * write, AP[1] unprivileged unless `IOMMU_PRIV`, AttrIndx device/write-back/non-cacheable, inner
 * shareable only for cacheable mappings (outer otherwise), XN for `IOMMU_NOEXEC`, and always AF.
 */
const protWords = (prot: number): [lo: number, hi: number] => {
  let lo = NG_LO | AF_LO;
  if ((prot & IOMMU_WRITE) === 0 && (prot & IOMMU_READ) !== 0) lo |= AP_RDONLY_LO;
  if ((prot & IOMMU_PRIV) === 0) lo |= AP_UNPRIV_LO;
  let attr = MAIR_ATTR_IDX_NC;
  if (prot & IOMMU_MMIO) attr = MAIR_ATTR_IDX_DEV;
  else if (prot & IOMMU_CACHE) attr = MAIR_ATTR_IDX_CACHE;
  lo |= attr << ATTRINDX_SHIFT;
  lo |= prot & IOMMU_CACHE ? SH_IS_LO : SH_OS_LO;
  const hi = prot & IOMMU_NOEXEC ? XN_HI : 0;
  return [lo >>> 0, hi >>> 0];
};

/** Attribute words for every `prot` value, precomputed so a map does no per-call encoding. */
export const PROT_PTE_LO = new Uint32Array(IOMMU_PROT_MASK + 1);
/** High-word attributes for every `prot` value (see {@link PROT_PTE_LO}). */
export const PROT_PTE_HI = new Uint32Array(IOMMU_PROT_MASK + 1);
for (let prot = 0; prot <= IOMMU_PROT_MASK; prot++) {
  const [lo, hi] = protWords(prot);
  PROT_PTE_LO[prot] = lo;
  PROT_PTE_HI[prot] = hi;
}

/**
 * The attribute bits of a stage-1 leaf descriptor for `prot` (IOMMU_* flags), as a 64-bit value —
 * `arm_lpae_prot_to_pte()` for `ARM_64_LPAE_S1` in drivers/iommu/io-pgtable-arm.c. The type bits and
 * the output address are added when the entry is written.
 * @throws RangeError when `prot` has bits outside the IOMMU_* flags (a caller bug).
 */
export const armLpaeProtToPte = (prot: number): bigint => {
  if (!Number.isInteger(prot) || prot < 0 || prot > IOMMU_PROT_MASK) {
    throw new RangeError(`prot ${prot} has bits outside the IOMMU_* flags`);
  }
  return (BigInt(PROT_PTE_HI[prot] as number) << 32n) | BigInt(PROT_PTE_LO[prot] as number);
};

/**
 * The IOMMU_* permissions a valid stage-1 leaf grants, read back from its descriptor words — what a
 * device sees. Stage 1 cannot express write-only: such a mapping reads back as read-write, as on
 * hardware.
 */
export const leafProt = (lo: number, hi: number): number => {
  let prot = IOMMU_READ;
  if ((lo & AP_RDONLY_LO) === 0) prot |= IOMMU_WRITE;
  if ((lo & AP_UNPRIV_LO) === 0) prot |= IOMMU_PRIV;
  const attr = (lo & ATTRINDX_MASK_LO) >>> ATTRINDX_SHIFT;
  if (attr === MAIR_ATTR_IDX_DEV) prot |= IOMMU_MMIO;
  else if (attr === MAIR_ATTR_IDX_CACHE) prot |= IOMMU_CACHE;
  if (hi & XN_HI) prot |= IOMMU_NOEXEC;
  return prot;
};
