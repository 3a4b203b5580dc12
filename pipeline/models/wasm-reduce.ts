/**
 * Sum and Mean over leading axes for tfjs's wasm backend. Per-channel reductions of NHWC activations
 * (axes [0, 1, 2]: every batch-norm forward and gradient in training) make the stock kernels transpose
 * the whole tensor first so the reduced axes are innermost; summing rows of the [rows, channels] view
 * directly skips that copy. Other reductions (and non-float32 inputs) go to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Column sums of a row-major [rows, cols] array (accumulated in float64). */
function columnSums(src: Float32Array, rows: number, cols: number): Float64Array {
  const acc = new Float64Array(cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let c = 0; c < cols; c++) acc[c] += src[o + c];
  }
  return acc;
}

/** The number of leading axes reduced, or -1 when `axis` is not exactly a non-empty prefix of the dims. */
function leadingAxes(axis: number | number[], rank: number): number {
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort(
    (a, b) => a - b,
  );
  if (axes.length === 0 || axes.length === rank) return -1;
  return axes.every((a, i) => a === i) ? axes.length : -1;
}

function makeReduce(name: 'Sum' | 'Mean', stock: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const lead = x.dtype === 'float32' ? leadingAxes(axis, x.shape.length) : -1;
    if (lead < 0) return stock.kernelFunc(args) as tf.TensorInfo;
    const backend = args.backend as unknown as WasmHeapBackend;
    const rows = x.shape.slice(0, lead).reduce((a, b) => a * b, 1);
    const kept = x.shape.slice(lead);
    const cols = kept.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput(
      keepDims ? [...x.shape.slice(0, lead).map(() => 1), ...kept] : kept,
      'float32',
    );
    // Views into wasm memory are taken after the allocation (which may grow and detach the memory).
    const sums = columnSums(backend.typedArrayFromHeap(x) as Float32Array, rows, cols);
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    const scale = name === 'Mean' ? 1 / rows : 1;
    for (let c = 0; c < cols; c++) dst[c] = sums[c] * scale;
    return out;
  };
}

let registered = false;

/** Replaces the wasm backend's Sum and Mean with versions that skip the transpose for leading axes. Idempotent. */
export function registerWasmReductions(): void {
  if (registered) return;
  registered = true;
  for (const name of ['Sum', 'Mean'] as const) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock) continue;
    tf.unregisterKernel(name, 'wasm');
    // The stock kernel keeps its set-up function: the backend runs it when it initialises.
    tf.registerKernel({ ...stock, kernelFunc: makeReduce(name, stock) });
  }
}
