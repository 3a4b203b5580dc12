/**
 * Runs an exported ONNX model with onnxruntime-node: the CUDA execution provider where the installed
 * build has it and a GPU answers, the CPU provider otherwise. The input is float32 in the layout the
 * exporter recorded (`inputLayout`: NHWC like tfjs, or planar NCHW); the output is NHWC.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import { ModelError } from '../errors.ts';
import { INPUT_LAYOUT_KEY, type InputLayout } from './onnx-export.ts';

export interface OnnxRunner {
  /** 'cuda' or 'cpu'. */
  readonly provider: string;
  /** Layout `run` expects: 'nhwc' (tfjs) or 'nchw' (planar), as recorded by the exporter. */
  readonly inputLayout: InputLayout;
  /** Runs one batch (shape in `inputLayout` order); returns the first output (NHWC) and its shape. */
  run(
    data: Float32Array,
    shape: [number, number, number, number],
  ): Promise<{ data: Float32Array; shape: number[] }>;
  close(): Promise<void>;
}

export interface OnnxRunnerOptions {
  /** Intra-op threads (default 1: parallelism comes from workers, one session each). */
  threads?: number;
  /** Try the CUDA provider first (default true; falls back to CPU when it is not there). */
  gpu?: boolean;
}

/** onnxruntime-node loaded on first use, so a missing native binding is an error callers can catch. */
function loadOrt(): Promise<typeof Ort> {
  return import('onnxruntime-node');
}

async function createSession(
  bytes: Uint8Array,
  provider: string,
  threads: number,
): Promise<Ort.InferenceSession> {
  const ort = await loadOrt();
  return ort.InferenceSession.create(bytes, {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // 'all' enables the NCHWc layout transform (MLAS blocked convolutions with the ReLU fused in): about
    // 2× the GFLOP/s of 'extended' on the default model here.
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // The arena reuses activation buffers between runs: without it a 1020² tile ran ~35 % slower.
    enableCpuMemArena: true,
    // Memory patterns pre-plan one block per input shape on a session's second run; that block is fresh
    // memory, so its page faults cost ~85 ms of system time on a 1020² tile, again for every new tile
    // shape (slide-edge tiles). The arena alone reuses buffers across shapes at the same speed.
    enableMemPattern: false,
    // Trained weights can drive activations into denormals, which x86 handles ~100× slower; flushing
    // them to zero changes results by < 1e-37.
    // Multi-thread sessions (main-thread mode): idle intra-op threads sleep instead of spinning. Measured
    // with 2 threads on a 1020² tile: ~10 % more GFLOP per CPU-second, wall time within the noise of this
    // shared machine. Single-thread sessions (the workers) have no pool, so nothing changes there.
    extra: { session: { set_denormal_as_zero: '1', intra_op: { allow_spinning: '0' } } },
  });
}

/** The input layout recorded by our exporter; models without the record are taken as NHWC. */
function onnxInputLayout(bytes: Uint8Array): InputLayout {
  try {
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    const v = m.metadataProps?.find((p) => p.key === INPUT_LAYOUT_KEY)?.value;
    return v === 'nchw' ? 'nchw' : 'nhwc';
  } catch {
    return 'nhwc'; // not decodable here: onnxruntime will say what is wrong when it loads it
  }
}

/**
 * The CUDA provider is a separate shared library that onnxruntime-node's installer fetches only on
 * machines that can reach it; asking for it without the library logs errors, so look for the file first.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    const bin = path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

export async function createOnnxRunner(
  bytes: Uint8Array,
  options: OnnxRunnerOptions = {},
): Promise<OnnxRunner> {
  const threads = options.threads ?? 1;
  let session: Ort.InferenceSession | undefined;
  let provider = 'cpu';
  if ((options.gpu ?? true) && cudaProviderInstalled()) {
    try {
      session = await createSession(bytes, 'cuda', threads);
      provider = 'cuda';
    } catch {
      session = undefined; // no CUDA provider in this build or no GPU: use the CPU
    }
  }
  if (!session) {
    try {
      session = await createSession(bytes, 'cpu', threads);
    } catch (err) {
      throw new ModelError(`onnxruntime cannot load the model: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const s = session;
  const ort = await loadOrt();
  const inputName = s.inputNames[0];
  const outputName = s.outputNames[0];
  return {
    provider,
    inputLayout: onnxInputLayout(bytes),
    async run(data, shape) {
      const result = await s.run({ [inputName]: new ort.Tensor('float32', data, shape) });
      const out = result[outputName];
      return { data: out.data as Float32Array, shape: [...out.dims] };
    },
    async close() {
      await s.release();
    },
  };
}
