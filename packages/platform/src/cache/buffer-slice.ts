/**
 * Checks that `[offset, offset + length)` lies inside `buf`. A caller passing a bad buffer slice is
 * misusing the model (there is no errno for it), so this throws before anything moves.
 * @throws RangeError on a negative, fractional or out-of-bounds slice.
 */
export const assertBufferSlice = (what: string, buf: Uint8Array, offset: number, length: number): void => {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > buf.length
  ) {
    throw new RangeError(
      `${what}: buffer slice [${offset}, +${length}) is outside a ${buf.length}-byte buffer`,
    );
  }
};
