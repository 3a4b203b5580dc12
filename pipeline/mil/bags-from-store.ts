/** Bags from an 'embed' run: one bag per finished slide, instances in (y, x) order. */
import { ConfigError, StoreError } from '../errors.ts';
import { slideKey } from '../slide-labels.ts';
import type { Store } from '../store/db.ts';
import { doneSlidesOfRun, type EmbeddedPatchRow, embeddedPatches } from '../store/mil-queries.ts';
import { getRun, listRuns } from '../store/runs.ts';
import { type Bag, makeBag } from './bag.ts';
import { decodeEmbeddingInto, type EmbeddingDtype } from './embedding-codec.ts';

export interface StoredBag extends Bag {
  slideName: string;
  /** The patch rows behind the instances, same order. */
  patches: Omit<EmbeddedPatchRow, 'embedding'>[];
}

/** The given 'embed' run, or the newest finished one. */
export function resolveEmbedRun(store: Store, runId?: number): { id: number; dtype: EmbeddingDtype } {
  const run =
    runId !== undefined
      ? getRun(store, runId)
      : listRuns(store, 'embed')
          .filter((r) => r.status === 'done')
          .at(-1);
  if (!run) {
    throw new ConfigError(
      runId !== undefined
        ? `no run ${runId} in ${store.path}`
        : `no finished embed run in ${store.path}; run \`wsi embed\` first`,
    );
  }
  if (run.kind !== 'embed') throw new ConfigError(`run ${run.id} is a '${run.kind}' run, not 'embed'`);
  const dtype = run.config.dtype === 'float16' ? 'float16' : 'float32';
  return { id: run.id, dtype };
}

/**
 * The bags of an embed run, one slide at a time (inference keeps only one bag in memory). With `labels`,
 * only labelled slides are yielded (with their label); `onlyKeys` restricts to those slide keys.
 */
export function* iterateBags(
  store: Store,
  run: { id: number; dtype: EmbeddingDtype },
  options: { labels?: Map<string, 0 | 1>; onlyKeys?: Set<string> } = {},
): Generator<StoredBag> {
  for (const slide of doneSlidesOfRun(store, run.id)) {
    // Labels and keys may name a slide by its content id (exact) or by its name key (a label).
    const key = slideKey(slide.name);
    if (options.onlyKeys && !options.onlyKeys.has(slide.id) && !options.onlyKeys.has(key)) continue;
    const label = options.labels?.get(slide.id) ?? options.labels?.get(key);
    if (options.labels && label === undefined) continue;
    const bag = storedBag(store, run, slide, label);
    if (bag) yield bag;
  }
}

/** One slide's bag of an 'embed' run; undefined when it has no embedded patches (no tissue). */
export function storedBag(
  store: Store,
  run: { id: number; dtype: EmbeddingDtype },
  slide: { id: string; name: string },
  label?: 0 | 1,
): StoredBag | undefined {
  const rows = embeddedPatches(store, run.id, slide.id);
  if (rows.length === 0) return undefined;
  const bytes = run.dtype === 'float32' ? 4 : 2;
  const dim = rows[0].embedding.byteLength / bytes;
  if (!Number.isInteger(dim) || dim < 1)
    throw new StoreError(`run ${run.id}: malformed embedding on ${slide.name}`);
  const x = new Float32Array(rows.length * dim);
  const patches = rows.map(({ embedding, ...box }, i) => {
    decodeEmbeddingInto(embedding, run.dtype, dim, x, i * dim);
    return box;
  });
  return { ...makeBag(slide.id, x, dim, label), slideName: slide.name, patches };
}

/**
 * All bags of an embed run in memory (training revisits every bag each epoch): about
 * patches × dim × 4 bytes, e.g. 400 slides × 10,000 patches × 64 floats ≈ 1 GB.
 */
export function loadBags(
  store: Store,
  run: { id: number; dtype: EmbeddingDtype },
  options: { labels?: Map<string, 0 | 1>; onlyKeys?: Set<string> } = {},
): StoredBag[] {
  return [...iterateBags(store, run, options)];
}
