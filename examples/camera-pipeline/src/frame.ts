/** The picture format the pipeline moves: one plane of 8-bit luma (the Y plane of a YUV frame). */
export interface FrameFormat {
  readonly width: number;
  readonly height: number;
}

/** Bytes of one frame: one byte per pixel. */
export const frameBytes = (f: FrameFormat): number => f.width * f.height;

/**
 * What the camera's sensor delivers for frame `frame`: a diagonal ramp that moves 16 levels per frame
 * under a 16×16 checkerboard, so every frame differs and a misplaced page changes the checksum.
 * Deterministic: the same frame number always gives the same bytes.
 */
export const paintTestPattern = (f: FrameFormat, frame: number, out: Uint8Array): void => {
  for (let y = 0; y < f.height; y++) {
    const row = y * f.width;
    for (let x = 0; x < f.width; x++) {
      const check = ((Math.floor(x / 16) + Math.floor(y / 16)) % 2) * 0x40;
      out[row + x] = (x + 2 * y + 16 * frame + check) % 256;
    }
  }
};

/**
 * The ISP's processing of one frame: a [1 2 1]/4 horizontal low-pass (edges clamped) followed by a
 * negative (255 − v). It is the reference model too: the pipeline checks the bytes the encoder and
 * display read against this function applied to the camera's pattern.
 */
export const ispTransform = (f: FrameFormat, src: Uint8Array, dst: Uint8Array): void => {
  for (let y = 0; y < f.height; y++) {
    const row = y * f.width;
    for (let x = 0; x < f.width; x++) {
      const left = src[row + Math.max(0, x - 1)]!;
      const mid = src[row + x]!;
      const right = src[row + Math.min(f.width - 1, x + 1)]!;
      dst[row + x] = 255 - Math.floor((left + 2 * mid + right + 2) / 4);
    }
  }
};
