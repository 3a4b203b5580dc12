/**
 * Marker-controlled watershed by priority flooding (Meyer's algorithm, as scikit-image's `watershed`):
 * pixels are flooded from the markers in order of the surface value, ties broken by arrival order,
 * 4-connected, restricted to a mask. Every reachable mask pixel gets the label of the basin that reaches it first.
 */

/** Binary min-heap of pixel indices keyed by (value, age); typed arrays, no per-push allocation. */
class PixelHeap {
  private keys: Float64Array;
  private ages: Float64Array;
  private items: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.ages = new Float64Array(capacity);
    this.items = new Int32Array(capacity);
  }
  private less(i: number, j: number): boolean {
    return this.keys[i] < this.keys[j] || (this.keys[i] === this.keys[j] && this.ages[i] < this.ages[j]);
  }
  private swap(i: number, j: number): void {
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
    const a = this.ages[i];
    this.ages[i] = this.ages[j];
    this.ages[j] = a;
    const it = this.items[i];
    this.items[i] = this.items[j];
    this.items[j] = it;
  }
  push(item: number, key: number, age: number): void {
    if (this.size === this.items.length) this.grow();
    let i = this.size++;
    this.items[i] = item;
    this.keys[i] = key;
    this.ages[i] = age;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): number {
    const top = this.items[0];
    this.size--;
    if (this.size > 0) {
      this.items[0] = this.items[this.size];
      this.keys[0] = this.keys[this.size];
      this.ages[0] = this.ages[this.size];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && this.less(l, m)) m = l;
        if (r < this.size && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  private grow(): void {
    const n = this.items.length * 2;
    const k = new Float64Array(n);
    k.set(this.keys);
    const a = new Float64Array(n);
    a.set(this.ages);
    const it = new Int32Array(n);
    it.set(this.items);
    this.keys = k;
    this.ages = a;
    this.items = it;
  }
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
  const labels = new Int32Array(width * height);
  const heap = new PixelHeap(Math.max(16, markers.length * 4));
  let age = 0;
  for (let i = 0; i < markers.length; i++) {
    const p = markers[i];
    labels[p] = i + 1;
    heap.push(p, surface[p], age++);
  }
  // Neighbours in a fixed order (up, left, right, down); a closure per pixel would cost an allocation each.
  const offsets = new Int32Array(4);
  while (heap.size > 0) {
    const p = heap.pop();
    const lab = labels[p];
    const x = p % width;
    let n = 0;
    if (p >= width) offsets[n++] = p - width;
    if (x > 0) offsets[n++] = p - 1;
    if (x < width - 1) offsets[n++] = p + 1;
    if (p + width < labels.length) offsets[n++] = p + width;
    for (let k = 0; k < n; k++) {
      const q = offsets[k];
      if (labels[q] !== 0 || (mask && !mask[q])) continue;
      labels[q] = lab;
      heap.push(q, surface[q], age++);
    }
  }
  return labels;
}
