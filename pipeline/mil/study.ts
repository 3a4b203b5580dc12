/**
 * MIL training over the store: from an 'embed' run and a labels CSV (model saved and registered, curves
 * in training_log). Inference over the slides is a stage: pipeline/stages/mil-infer.ts.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { oodReferenceOfRegistered } from '../ood/model.ts';
import { createRng } from '../patches/samplers/rng.ts';
import { slideKey } from '../slide-labels.ts';
import type { Store } from '../store/db.ts';
import { registerModel } from '../store/models.ts';
import { beginRun, failRun, finishRun } from '../store/runs.ts';
import { writeTrainingLog } from '../store/training-queries.ts';
import { loadBags, resolveEmbedRun, type StoredBag } from './bags-from-store.ts';
import type { MilConfig } from './config.ts';
import { saveMilModel } from './io.ts';
import { trainMil } from './train.ts';

export interface MilTrainOptions {
  labels: Map<string, 0 | 1>;
  /** Separate validation labels; otherwise a stratified share of the training slides is held out. */
  valLabels?: Map<string, 0 | 1>;
  valFraction?: number;
  outDir: string;
  embedRun?: number;
  config?: Partial<MilConfig>;
  log?(line: string): void;
}

/** Stratified split: `fraction` of each class (at least 1) goes to validation when a class has ≥ 4 bags. */
export function splitValidation<T extends { label?: 0 | 1 }>(
  bags: T[],
  fraction: number,
  seed: number,
): [T[], T[]] {
  const rng = createRng(seed);
  const train: T[] = [];
  const val: T[] = [];
  for (const cls of [0, 1] as const) {
    const members = bags.filter((b) => b.label === cls);
    if (members.length < 4 || fraction <= 0) {
      train.push(...members);
      continue;
    }
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
    const k = Math.max(1, Math.round(members.length * fraction));
    val.push(...members.slice(0, k));
    train.push(...members.slice(k));
  }
  // Validation without both classes cannot give an AUC: train on everything instead.
  if (!val.some((b) => b.label === 0) || !val.some((b) => b.label === 1)) return [bags, []];
  return [train, val];
}

export async function trainMilFromStore(store: Store, o: MilTrainOptions) {
  const embed = resolveEmbedRun(store, o.embedRun);
  const valKeys = o.valLabels ? new Set(o.valLabels.keys()) : undefined;
  let train: StoredBag[] = loadBags(store, embed, { labels: o.labels });
  let val: StoredBag[] = o.valLabels ? loadBags(store, embed, { labels: o.valLabels }) : [];
  const keysOf = (b: StoredBag) => [b.id, slideKey(b.slideName)];
  if (valKeys) train = train.filter((b) => !keysOf(b).some((k) => valKeys.has(k)));
  const missing = [...o.labels.keys()].filter(
    (k) => !train.some((b) => keysOf(b).includes(k)) && !valKeys?.has(k),
  );
  if (train.length === 0) {
    throw new ConfigError(
      `none of the ${o.labels.size} labelled slides has embeddings in embed run ${embed.id}`,
    );
  }
  if (!o.valLabels) [train, val] = splitValidation(train, o.valFraction ?? 0.25, o.config?.seed ?? 1);
  o.log?.(
    `MIL: ${train.length} training slides, ${val.length} validation slides from embed run ${embed.id}` +
      (missing.length ? ` (${missing.length} labelled slides without embeddings skipped)` : ''),
  );
  const config = { ...o.config };
  const { runId } = beginRun(store, 'mil-train', {
    embedRun: embed.id,
    out: resolve(o.outDir),
    config,
    train: train.map((b) => b.slideName),
    val: val.map((b) => b.slideName),
  });
  try {
    const result = await trainMil(train, val.length ? val : undefined, config, {
      onEpoch: (log) => {
        writeTrainingLog(store, runId, log.epoch, log.loss, { valAuc: log.valAuc, valLoss: log.valLoss });
        o.log?.(
          `epoch ${log.epoch}: loss ${log.loss.toFixed(4)}` +
            (log.valAuc !== undefined
              ? ` val AUC ${log.valAuc.toFixed(3)} val loss ${log.valLoss?.toFixed(4)}`
              : ''),
        );
      },
    });
    const metrics = { ...result.metrics, bestEpoch: result.bestEpoch };
    // Out-of-distribution reference: the stain and nucleus size of the slides it learnt from, saved with
    // it (measurements an earlier run stored for these slides are reused; see ood/model.ts).
    o.log?.('measuring training slides for out-of-distribution checks');
    const ood = await oodReferenceOfRegistered(
      store,
      [...train, ...val].map((b) => b.id),
      o.log,
    );
    await saveMilModel(o.outDir, result.model, {
      config: result.config,
      metrics,
      history: result.history,
      embedding: { embedRun: embed.id, dim: result.config.inputDim, dtype: embed.dtype },
      ...(ood ? { ood } : {}),
    });
    const modelId = registerModel(store, {
      name: `mil-${result.config.kind}`,
      kind: 'mil',
      path: o.outDir,
      config: result.config as unknown as Record<string, unknown>,
      metrics,
    });
    store.db.prepare('UPDATE runs SET model_id = ? WHERE id = ?').run(modelId, runId);
    finishRun(store, runId, metrics);
    result.model.dispose();
    return { runId, modelId, metrics, config: result.config };
  } catch (err) {
    failRun(store, runId, (err as Error).message);
    throw err;
  }
}
