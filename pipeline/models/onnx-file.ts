/** The ONNX export as a file workers load, and a probe that onnxruntime can run it here. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { createOnnxRunner } from './onnx-runner.ts';

/** Writes the ONNX export to a temp file named by its content hash (workers load it from there). */
export function onnxFile(bytes: Uint8Array): string {
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(tmpdir(), `wsi-model-${hash}.onnx`);
  if (!existsSync(file)) writeFileAtomic(file, bytes);
  return file;
}

/** True when onnxruntime loads the exported model (a missing or broken native binding means no). */
export async function onnxRuntimeWorks(bytes: Uint8Array): Promise<boolean> {
  try {
    const probe = await createOnnxRunner(bytes, { threads: 1, gpu: false });
    await probe.close();
    return true;
  } catch {
    return false;
  }
}
