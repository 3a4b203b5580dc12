/**
 * tfjs backend choice, done once per process (or worker thread).
 *
 * Order: @tensorflow/tfjs-node-gpu when installed and it finds a GPU, then @tensorflow/tfjs-node (or
 * tfjs-node-gpu on its CPU device), then the bundled wasm backend (SIMD, one thread: tfjs disables wasm
 * threads under Node), then the pure-JS cpu backend. Measured here on a small conv net: wasm SIMD about
 * 28 GFLOP/s per thread, cpu under 1, so wasm comes before cpu. `WSI_BACKEND=tensorflow|wasm|cpu`
 * forces one (and fails loudly when it cannot start). The wasm backend gets our convolution gradient
 * kernels (wasm-conv-grads.ts), a block-copy Tile (wasm-tile.ts) and transpose-free per-channel Sum/Mean
 * (wasm-reduce.ts) before it starts: batch-norm training leans on the last two.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../errors.ts';
import { registerWasmConvGradients } from './wasm-conv-grads.ts';
import { registerWasmReductions } from './wasm-reduce.ts';
import { registerWasmTile } from './wasm-tile.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
const NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** Human-readable detail: which package, GPU or CPU device, SIMD. */
  detail: string;
  gpu: boolean;
}

let chosen: Promise<BackendInfo> | undefined;
let current: BackendInfo | undefined;
/** Set by useBackend: an explicit choice that initBackend then keeps. */
let explicit: BackendInfo | undefined;

/** Imports a package by a computed name so a missing optional dependency is a caught error, not a type error. */
async function tryImport(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

/** setBackend and then check: tfjs silently stays on the previous backend when an init fails. */
async function activate(name: BackendName): Promise<boolean> {
  if (!tf.findBackendFactory(name)) return false;
  if (name === 'wasm') {
    registerWasmConvGradients();
    registerWasmTile();
    registerWasmReductions();
  }
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

function usingGpu(): boolean {
  // tfjs-node's backend exposes `isUsingGpuDevice`; other backends do not have the property.
  return (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
}

async function startTensorflow(): Promise<BackendInfo | undefined> {
  let pkg: string | undefined;
  if (await tryImport('@tensorflow/tfjs-node-gpu')) pkg = 'tfjs-node-gpu';
  else if (await tryImport('@tensorflow/tfjs-node')) pkg = 'tfjs-node';
  if (!pkg || !(await activate('tensorflow'))) return undefined;
  const gpu = usingGpu();
  return { name: 'tensorflow', gpu, detail: `${pkg}, ${gpu ? 'GPU' : 'CPU'} device` };
}

async function start(name: BackendName): Promise<BackendInfo | undefined> {
  if (name === 'tensorflow') return startTensorflow();
  if (!(await activate(name))) return undefined;
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    return { name, gpu: false, detail: `bundled wasm${simd ? ' SIMD' : ' (no SIMD)'}, 1 thread` };
  }
  return { name, gpu: false, detail: 'pure JavaScript' };
}

async function choose(log: (line: string) => void): Promise<BackendInfo> {
  const forced = process.env.WSI_BACKEND?.trim();
  if (forced) {
    if (!NAMES.includes(forced as BackendName)) {
      throw new ConfigError(`WSI_BACKEND must be one of ${NAMES.join(', ')}, got '${forced}'`);
    }
    const info = await start(forced as BackendName);
    if (!info)
      throw new ConfigError(`WSI_BACKEND=${forced}: that backend is not installed or failed to start`);
    log(`tfjs backend: ${info.name} (${info.detail}; forced by WSI_BACKEND)`);
    return info;
  }
  // A tensorflow backend on a GPU beats everything; on a CPU it is still native TensorFlow, ahead of wasm.
  for (const name of NAMES) {
    const info = await start(name);
    if (info) {
      log(`tfjs backend: ${info.name} (${info.detail})`);
      return info;
    }
  }
  throw new ConfigError('no tfjs backend could be started (tensorflow, wasm and cpu all failed)');
}

/**
 * Chooses and starts the backend once; later calls return the same answer. Returns the backend name
 * ('tensorflow' | 'wasm' | 'cpu'). The choice is logged once on stderr (pass `log` to redirect or silence).
 */
export async function initBackend(options: { log?: (line: string) => void } = {}): Promise<BackendName> {
  if (explicit) return explicit.name;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  chosen ??= choose(log).then((info) => {
    current = info;
    return info;
  });
  try {
    return (await chosen).name;
  } catch (err) {
    chosen = undefined; // let a corrected environment retry
    throw err;
  }
}

/** The backend chosen by initBackend, or undefined before it ran. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * Switches to a named backend regardless of the automatic choice (tests and benchmarks comparing
 * backends); later initBackend calls keep it. Throws ConfigError if it cannot start.
 */
export async function useBackend(name: BackendName): Promise<BackendInfo> {
  const info = await start(name);
  if (!info) throw new ConfigError(`tfjs backend '${name}' is not installed or failed to start`);
  current = info;
  explicit = info;
  return info;
}

/** True when @tensorflow/tfjs-node-gpu can be imported (tests of the tensorflow backend skip otherwise). */
export async function hasTfjsNodeGpu(): Promise<boolean> {
  return tryImport('@tensorflow/tfjs-node-gpu');
}
