/**
 * Marker-controlled watershed by priority flooding (Meyer's algorithm, as scikit-image's `watershed`):
 * pixels are flooded from the markers in order of the surface value, ties broken by arrival order,
 * 4-connected, restricted to a mask. Every reachable mask pixel gets the label of the basin that reaches it first.
 *
 * The priority queue is a bucket queue over the ranks of the surface values (one FIFO per distinct value,
 * linked through a per-pixel `next` array). Popping the lowest non-empty bucket in FIFO order is exactly
 * the (value, arrival) order of a binary heap, so the labels are the same, without the log-factor sifting.
 */

/** Float32 bits mapped to unsigned keys whose integer order is the numeric order (−0 counts as +0). */
function sortableKey(bits: number): number {
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/**
 * Ranks 0..levels−1 of `values` at the pixels `idx[0..m)`, equal values sharing a rank (LSD radix sort,
 * three 11-bit digits, a digit shared by every key skipped). Written into `rank` at those pixels.
 */
function rankPixels(values: Float32Array, idx: Int32Array, m: number, rank: Int32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let keys = new Uint32Array(m);
  let items: Int32Array = idx.subarray(0, m);
  for (let i = 0; i < m; i++) {
    const p = items[i];
    keys[i] = values[p] === 0 ? 0x80000000 : sortableKey(bits[p]);
  }
  let keys2 = new Uint32Array(m);
  let items2: Int32Array = new Int32Array(m);
  const count = new Int32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < m; i++) count[(keys[i] >>> shift) & 2047]++;
    if (m === 0 || count[(keys[0] >>> shift) & 2047] === m) continue;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const dst = count[(keys[i] >>> shift) & 2047]++;
      keys2[dst] = keys[i];
      items2[dst] = items[i];
    }
    const tk = keys;
    keys = keys2;
    keys2 = tk;
    const ti = items;
    items = items2;
    items2 = ti;
  }
  let level = -1;
  let prev = -1;
  for (let i = 0; i < m; i++) {
    if (keys[i] !== prev) {
      level++;
      prev = keys[i];
    }
    rank[items[i]] = level;
  }
  return level + 1;
}

/**
 * Floods `surface` (low values first) from `markers` (pixel indices; marker i gets label i + 1).
 * Returns labels (0 = background or unreachable).
 */
export function watershed(
  surface: Float32Array,
  width: number,
  height: number,
  markers: Int32Array,
  mask?: Uint8Array,
): Int32Array {
  const size = width * height;
  const labels = new Int32Array(size);
  // Only mask pixels and markers ever enter the queue, so only they need a rank.
  const idx = new Int32Array(size);
  let m = 0;
  if (mask) {
    for (let p = 0; p < size; p++) if (mask[p]) idx[m++] = p;
    for (let i = 0; i < markers.length; i++) {
      const p = markers[i];
      if (!mask[p] && labels[p] === 0) {
        labels[p] = 1; // temporary: counts an off-mask marker once
        idx[m++] = p;
      }
    }
    for (let i = 0; i < markers.length; i++) labels[markers[i]] = 0;
  } else {
    for (let p = 0; p < size; p++) idx[p] = p;
    m = size;
  }
  const rank = new Int32Array(size);
  const levels = rankPixels(surface, idx, m, rank);
  const head = new Int32Array(levels).fill(-1);
  const tail = new Int32Array(levels);
  const next = idx; // reused: the pixel list is no longer needed
  let queued = 0;
  let lowest = levels;
  const push = (p: number): void => {
    const b = rank[p];
    next[p] = -1;
    if (head[b] < 0) head[b] = p;
    else next[tail[b]] = p;
    tail[b] = p;
    if (b < lowest) lowest = b;
    queued++;
  };
  for (let i = 0; i < markers.length; i++) {
    const p = markers[i];
    // A pixel given twice keeps the last marker's label and is queued once (as the heap would pop it twice to no effect).
    if (labels[p] === 0) push(p);
    labels[p] = i + 1;
  }
  const last = size - width;
  while (queued > 0) {
    while (head[lowest] < 0) lowest++;
    const p = head[lowest];
    head[lowest] = next[p];
    queued--;
    const lab = labels[p];
    const x = p % width;
    // Neighbours in a fixed order (up, left, right, down): it decides arrival order among equal values.
    if (p >= width) {
      const q = p - width;
      if (labels[q] === 0 && (!mask || mask[q])) {
        labels[q] = lab;
        push(q);
      }
    }
    if (x > 0) {
      const q = p - 1;
      if (labels[q] === 0 && (!mask || mask[q])) {
        labels[q] = lab;
        push(q);
      }
    }
    if (x < width - 1) {
      const q = p + 1;
      if (labels[q] === 0 && (!mask || mask[q])) {
        labels[q] = lab;
        push(q);
      }
    }
    if (p < last) {
      const q = p + width;
      if (labels[q] === 0 && (!mask || mask[q])) {
        labels[q] = lab;
        push(q);
      }
    }
  }
  return labels;
}
