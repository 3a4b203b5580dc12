/**
 * The `mil` stage: an attention-MIL model over the bags of an 'embed' run. Per slide its probability goes
 * to slide_results and every patch's raw and per-slide normalised attention to patches. The inputs are
 * the embed run's slides (by content id); the model is small, so it runs on the main thread in `plan`.
 * A model saved with statistics of its training slides (mil.json `ood`) gives each slide an
 * out-of-distribution verdict (pipeline/ood, table slide_ood, upserted so a redone slide keeps one row).
 */
import { resolve } from 'node:path';
import { StoreError } from '../errors.ts';
import { normaliseWeights, predictBag } from '../mil/bag.ts';
import { resolveEmbedRun, type StoredBag, storedBag } from '../mil/bags-from-store.ts';
import { loadMilModel } from '../mil/io.ts';
import { recordRegisteredVerdict } from '../ood/model.ts';
import { readOodVerdicts, type StoredOod } from '../ood/store.ts';
import type { OodVerdict } from '../ood/verdict.ts';
import { slideKey } from '../slide-labels.ts';
import { modelContentHash } from '../stage/identity.ts';
import { runStage } from '../stage/run-stage.ts';
import type { Stage, StageReport } from '../stage/types.ts';
import type { Store } from '../store/db.ts';
import {
  type AttentionRow,
  doneSlidesOfRun,
  slideResultsOfRun,
  writeSlideAttention,
} from '../store/mil-queries.ts';
import { registerModel } from '../store/models.ts';
import { getSlide } from '../store/slides.ts';

export interface MilInferOptions {
  modelDir: string;
  embedRun?: number;
  /** Restrict to these slide keys (names without extension, lower case). */
  onlyKeys?: Set<string>;
  /** Reference labels by slide id (or by name key), stored in details_json when known. */
  labels?: Map<string, 0 | 1>;
  threshold?: number;
  /** Each slide as it is scored, with its verdict when the model has an out-of-distribution reference. */
  onSlide?(name: string, probability: number, ood?: OodVerdict): void;
}

interface MilState {
  bag: StoredBag;
  probability: number;
  weights: number[];
  ood?: OodVerdict;
}

type LoadedMil = Awaited<ReturnType<typeof loadMilModel>>;

export function milInferStage(
  m: LoadedMil,
  modelDir: string,
  embed: ReturnType<typeof resolveEmbedRun>,
  o: MilInferOptions,
): Stage<MilState, never> {
  const threshold = o.threshold ?? 0.5;
  const { model, sidecar } = m;
  return {
    kind: 'mil',
    unit: 'slides',
    identity: (store) => ({
      config: { model: modelContentHash(modelDir), embedRun: embed.id, threshold },
      modelId: registerModel(store, {
        name: `mil-${sidecar.config.kind}`,
        kind: 'mil',
        path: modelDir,
        config: sidecar.config as unknown as Record<string, unknown>,
        metrics: sidecar.metrics,
      }),
      parentRunId: embed.id,
    }),
    async resolve(ctx, id) {
      const row = getSlide(ctx.store, id);
      if (!row) throw new StoreError(`slide ${id} is not in the store`);
      return { source: id, id, name: row.name };
    },
    async plan(ctx, s) {
      const bag = storedBag(ctx.store, embed, s);
      if (!bag) throw new StoreError(`embed run ${embed.id} has no embeddings of ${s.name}`);
      const { probability, weights } = await predictBag(model, bag);
      const ood = sidecar.ood
        ? await recordRegisteredVerdict(ctx.store, ctx.runId, s.id, sidecar.ood)
        : undefined;
      o.onSlide?.(s.name, probability, ood);
      return { state: { bag, probability, weights: Array.from(weights), ood }, tasks: [], unitsDone: 1 };
    },
    finish(ctx, s, { bag, probability, weights, ood }) {
      const isMax = sidecar.config.kind === 'max';
      // Max pooling has instance probabilities, not attention: show them as weights that sum to 1.
      const total = weights.reduce((a, b) => a + b, 0);
      const attention = isMax ? weights.map((w) => w / total) : weights;
      const norm = normaliseWeights(attention);
      const rows: AttentionRow[] = bag.patches.map((p, i) => ({
        ...p,
        score: isMax ? weights[i] : null,
        attention: attention[i],
        attentionNorm: norm[i],
      }));
      const reference = o.labels?.get(s.id) ?? o.labels?.get(slideKey(s.name));
      writeSlideAttention(ctx.store, ctx.runId, s.id, rows, {
        score: probability,
        label: probability >= threshold ? 1 : 0,
        details: {
          kind: sidecar.config.kind,
          threshold,
          patches: rows.length,
          reference: reference ?? null,
          ...(ood ? { ood: { outOfDistribution: ood.outOfDistribution, reason: ood.reason } } : {}),
        },
      });
      return rows.length;
    },
  };
}

export interface MilSlideScore {
  slideId: string;
  name: string;
  probability: number;
  /** Absent when the model has no out-of-distribution reference. */
  ood?: StoredOod;
}

/** `wsi mil infer`: the stage over every slide of the embed run that has embeddings (or those in onlyKeys). */
export async function inferMilToStore(store: Store, o: MilInferOptions) {
  const modelDir = resolve(o.modelDir);
  const m = await loadMilModel(modelDir);
  try {
    const embed = resolveEmbedRun(store, o.embedRun);
    const inputs = doneSlidesOfRun(store, embed.id)
      .filter((s) => s.patches > 0 && (!o.onlyKeys || o.onlyKeys.has(slideKey(s.name))))
      .map((s) => s.id);
    const report: StageReport = await runStage(milInferStage(m, modelDir, embed, o), { store, inputs });
    // Every slide of the run as stored (scored now or by an earlier attempt), in input order.
    const results = new Map(slideResultsOfRun(store, report.runId).map((r) => [r.slideId, r]));
    const verdicts = readOodVerdicts(store, report.runId);
    const scores: MilSlideScore[] = report.slides.flatMap((s) => {
      const r = s.slideId ? results.get(s.slideId) : undefined;
      if (!r || r.score === null) return [];
      return [{ slideId: r.slideId, name: r.name, probability: r.score, ood: verdicts.get(r.slideId) }];
    });
    return {
      runId: report.runId,
      resumed: report.resumed,
      /** Whether the model carries an out-of-distribution reference (else no slide gets a verdict). */
      oodReference: m.sidecar.ood !== undefined,
      slides: report.slides.filter((s) => s.status === 'done').length,
      skipped: report.slides.filter((s) => s.status === 'skipped').length,
      scores,
      report,
    };
  } finally {
    m.model.dispose();
  }
}
