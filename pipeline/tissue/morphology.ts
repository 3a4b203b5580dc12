/**
 * Binary morphology on 0/1 masks: square dilation/erosion by running window counts (O(pixels) whatever
 * the radius), connected components, small-piece removal and hole filling.
 */

/** Dilation (`erode = false`) or erosion with a (2r+1)² square; pixels outside the image count as background. */
function squareFilter(src: Uint8Array, width: number, height: number, r: number, erode: boolean): Uint8Array {
  if (r <= 0) return src.slice();
  const tmp = new Uint8Array(src.length);
  const out = new Uint8Array(src.length);
  const full = 2 * r + 1;
  // Rows: count of ones in the window [x − r, x + r].
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(r, width); x++) count += src[row + x];
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += src[row + x + r];
      if (x - r - 1 >= 0) count -= src[row + x - r - 1];
      tmp[row + x] = erode ? (count === full ? 1 : 0) : count > 0 ? 1 : 0;
    }
  }
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(r, height); y++) count += tmp[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + r < height) count += tmp[(y + r) * width + x];
      if (y - r - 1 >= 0) count -= tmp[(y - r - 1) * width + x];
      out[y * width + x] = erode ? (count === full ? 1 : 0) : count > 0 ? 1 : 0;
    }
  }
  return out;
}

export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return squareFilter(mask, width, height, r, false);
}

function erode(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return squareFilter(mask, width, height, r, true);
}

/** Closing joins gaps narrower than 2r + 1; the border is padded so tissue touching the edge survives. */
export function close(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const pw = width + 2 * r;
  const ph = height + 2 * r;
  const padded = new Uint8Array(pw * ph);
  for (let y = 0; y < height; y++) padded.set(mask.subarray(y * width, (y + 1) * width), (y + r) * pw + r);
  const closed = erode(dilate(padded, pw, ph, r), pw, ph, r);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    out.set(closed.subarray((y + r) * pw + r, (y + r) * pw + r + width), y * width);
  return out;
}

/** Opening removes anything thinner than 2r + 1. */
export function open(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  return dilate(erode(mask, width, height, r), width, height, r);
}

export interface Components {
  /** Component number per pixel (1-based), 0 where the pixel is not `value`. */
  labels: Int32Array;
  /** Pixel count per component (index 0 unused). */
  areas: number[];
  /** Whether a component touches the image border. */
  touchesBorder: boolean[];
}

/**
 * Connected components of pixels equal to `value`: 8-connected for foreground (1), 4-connected for
 * background (0), the pairing under which outlines and holes agree.
 */
export function components(mask: Uint8Array, width: number, height: number, value: 0 | 1): Components {
  const labels = new Int32Array(width * height);
  const areas = [0];
  const touchesBorder = [false];
  const stack = new Int32Array(width * height);
  const eight = value === 1;
  let next = 0;
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] !== value || labels[start] !== 0) continue;
    next++;
    let area = 0;
    let border = false;
    let top = 0;
    stack[top++] = start;
    labels[start] = next;
    while (top > 0) {
      const p = stack[--top];
      area++;
      const x = p % width;
      const y = (p - x) / width;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) border = true;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          if (dx === 0 && dy === 0) continue;
          if (!eight && dx !== 0 && dy !== 0) continue;
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] === value && labels[q] === 0) {
            labels[q] = next;
            stack[top++] = q;
          }
        }
      }
    }
    areas.push(area);
    touchesBorder.push(border);
  }
  return { labels, areas, touchesBorder };
}

/** Removes 8-connected foreground pieces smaller than `minArea` pixels. */
export function removeSmallRegions(
  mask: Uint8Array,
  width: number,
  height: number,
  minArea: number,
): Uint8Array {
  const out = mask.slice();
  if (minArea <= 1) return out;
  const { labels, areas } = components(mask, width, height, 1);
  for (let i = 0; i < out.length; i++) if (out[i] && areas[labels[i]] < minArea) out[i] = 0;
  return out;
}

/** Fills background pieces enclosed by foreground (not touching the border) smaller than `maxArea` pixels. */
export function fillHoles(mask: Uint8Array, width: number, height: number, maxArea: number): Uint8Array {
  const out = mask.slice();
  const { labels, areas, touchesBorder } = components(mask, width, height, 0);
  for (let i = 0; i < out.length; i++) {
    if (out[i]) continue;
    const c = labels[i];
    if (!touchesBorder[c] && areas[c] < maxArea) out[i] = 1;
  }
  return out;
}
