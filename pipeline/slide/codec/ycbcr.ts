/** Full-range ITU-R BT.601 YCbCr → RGB in place (as JPEG/JFIF define it; used for Aperio 33003 tiles). */
export function ycbcrToRgbInPlace(data: Uint8Array, pixels: number, channels: number): void {
  for (let i = 0, o = 0; i < pixels; i++, o += channels) {
    const y = data[o];
    const cb = data[o + 1] - 128;
    const cr = data[o + 2] - 128;
    data[o] = clamp(Math.round(y + 1.402 * cr));
    data[o + 1] = clamp(Math.round(y - 0.344136 * cb - 0.714136 * cr));
    data[o + 2] = clamp(Math.round(y + 1.772 * cb));
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
