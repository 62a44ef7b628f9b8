/** The CRC-32 lookup table of the IEEE 802.3 polynomial (reflected, 0xedb88320). */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (IEEE 802.3, as `crc32_le` with the usual pre/post inversion in lib/crc32.c) of the first
 * `length` bytes of `bytes`: the fingerprint each pipeline stage takes of the frame it saw, so that
 * equal checksums prove the bytes crossed the DMA path intact. The bitwise operations act on bytes
 * and a 32-bit remainder, never on addresses.
 */
export const crc32 = (bytes: Uint8Array, length = bytes.length): number => {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
};

/** A checksum as eight hex digits, the way reports print it. */
export const formatCrc = (crc: number): string => crc.toString(16).padStart(8, '0');
