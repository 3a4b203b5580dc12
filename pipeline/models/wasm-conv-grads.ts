/**
 * Convolution gradients for tfjs's wasm backend, written as ordinary forward convolutions so they run on
 * the backend's fast XNNPACK Conv2D path.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel (training any conv throws) and its
 * Conv2DBackpropInput is a naive loop about 10× slower than the forward convolution. With
 * y[b,i,j,o] = Σ x[b, i·s + p − padT, j·s + q − padL, c] · w[p,q,c,o]:
 *  - filter gradient: swap batch and channels. With X' = x transposed to [c, H, W, b] and the gradient
 *    dy' transposed to [oh, ow, b, o] used as the filter, a stride-1 convolution dilated by the forward
 *    stride gives z[c,p,q,o] = Σ_{i,j,b} X'[c, p + i·s − padT, q + j·s − padL, b] · dy'[i,j,b,o] = dw[p,q,c,o].
 *  - input gradient: a "full" convolution of dy (zero-dilated by the stride) with the kernel flipped in
 *    space and its in/out channels swapped, padded by kernel − 1 − pad.
 * Every step calls the wasm backend's own kernels (Transpose, Reverse, PadV2, Slice, Conv2D), so no data
 * leaves wasm memory.
 */
import * as tf from '@tensorflow/tfjs';

type Pad = [[number, number], [number, number], [number, number], [number, number]];

/** The part of the wasm backend these kernels use (disposing intermediates). */
interface KernelBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function run(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
  backend: KernelBackend,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
  // The kernel registry types backends as the abstract KernelBackend; the wasm backend is one.
  const out = kernel.kernelFunc({ inputs, attrs, backend: backend as unknown as tf.KernelBackend });
  return out as tf.TensorInfo;
}

function convInfoOf(
  xShape: number[],
  filterShape: number[],
  attrs: ConvGradAttrs,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== 'NHWC') {
    throw new Error(`wasm conv gradients support NHWC only, got ${attrs.dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** dy [b, oh, ow, o] → zeros inserted between rows/columns: [b, (oh−1)·sh+1, (ow−1)·sw+1, o]. */
function dilate(dy: tf.TensorInfo, sh: number, sw: number, backend: KernelBackend): tf.TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [b, oh, ow, o] = dy.shape;
  const r6 = run('Reshape', { x: dy }, { shape: [b, oh, 1, ow, 1, o] }, backend);
  const padded = run(
    'PadV2',
    { x: r6 },
    {
      paddings: [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
    backend,
  );
  backend.disposeData(r6.dataId);
  const r4 = run('Reshape', { x: padded }, { shape: [b, oh * sh, ow * sw, o] }, backend);
  backend.disposeData(padded.dataId);
  const out = run(
    'Slice',
    { x: r4 },
    { begin: [0, 0, 0, 0], size: [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, o] },
    backend,
  );
  backend.disposeData(r4.dataId);
  return out;
}

function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const backend = args.backend as KernelBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvGradAttrs & { filterShape: number[] };
  const info = convInfoOf(x.shape, attrs.filterShape, attrs);
  const { filterHeight: kh, filterWidth: kw, inChannels: c, outChannels: o } = info;
  const { top, bottom, left, right } = info.padInfo;

  const xT = run('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend); // [c, H, W, b]
  const dyT = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend); // [oh, ow, b, o]
  const pad: Pad = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const z = run(
    'Conv2D',
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad,
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    } as unknown as tf.NamedAttrMap,
    backend,
  ); // [c, ≥kh, ≥kw, o]: larger when the strided windows do not reach the far edge
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  let cropped = z;
  if (z.shape[1] !== kh || z.shape[2] !== kw) {
    cropped = run('Slice', { x: z }, { begin: [0, 0, 0, 0], size: [c, kh, kw, o] }, backend);
    backend.disposeData(z.dataId);
  }
  const dw = run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }, backend);
  backend.disposeData(cropped.dataId);
  return dw;
}

function conv2DBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const backend = args.backend as KernelBackend;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvGradAttrs & { inputShape: number[] };
  const info = convInfoOf(attrs.inputShape, filter.shape, attrs);
  const { filterHeight: kh, filterWidth: kw, inHeight, inWidth } = info;
  const { top, left } = info.padInfo;

  const flipped = run('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const wT = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }, backend); // [kh, kw, o, c]
  backend.disposeData(flipped.dataId);
  const dyD = dilate(dy, info.strideHeight, info.strideWidth, backend);
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  const padBottom = inHeight - dyD.shape[1] + top;
  const padRight = inWidth - dyD.shape[2] + left;
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
    throw new Error(`wasm Conv2DBackpropInput: padding larger than the kernel is not supported`);
  }
  const pad: Pad = [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ];
  const dx = run(
    'Conv2D',
    { x: dyD, filter: wT },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } as unknown as tf.NamedAttrMap,
    backend,
  );
  backend.disposeData(wT.dataId);
  if (dyD !== dy) backend.disposeData(dyD.dataId);
  return dx;
}

let registered = false;

/** Registers both kernels for the wasm backend (replacing the slow Conv2DBackpropInput). Idempotent. */
export function registerWasmConvGradients(): void {
  if (registered) return;
  registered = true;
  for (const [name, kernelFunc] of [
    ['Conv2DBackpropFilter', conv2DBackpropFilter],
    ['Conv2DBackpropInput', conv2DBackpropInput],
  ] as const) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}
