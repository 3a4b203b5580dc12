/** `wsi mil train|infer`: attention-MIL from slide labels over an 'embed' run. */
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import type { MilKind } from '../mil/config.ts';
import { trainMilFromStore } from '../mil/study.ts';
import { initBackend } from '../models/backend.ts';
import { readLabelsCsv } from '../slide-labels.ts';
import { stageExitCode } from '../stage/report.ts';
import { inferMilToStore } from '../stages/mil-infer.ts';
import { openStore } from '../store/db.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi mil train --db FILE --labels CSV --out DIR [options]
       wsi mil infer --db FILE --model DIR [--embed-run ID] [--labels CSV]

train: learns a slide classifier from slide labels alone over the patch embeddings of an 'embed' run
  (default: the newest finished one). CSV lines are 'slide,label' as in CAMELYON16's reference CSV
  (Tumor/Normal or 1/0; names with or without extension). Saves a tfjs model + mil.json sidecar in DIR
  and registers it; the learning curve goes to training_log.
  --val CSV           validation slides (default: a stratified --val-fraction of the training slides)
  --val-fraction F    default 0.25 (no validation when a class has fewer than 4 slides)
  --kind K            attention (gated attention, default) or max (max-pooling baseline)
  --epochs N          default 80      --patience N     early-stopping patience on val AUC (default 15)
  --warmup N          epochs before model selection / early stopping start (default 10)
  --lr X              default 0.002   --weight-decay X default 1e-4   --dropout X   default 0.25
  --hidden N          default 64      --attention N    default 32
  --max-instances N   instances sampled per bag per step (default 512; inference uses all)
  --bags-per-step N   default 4       --no-class-weights   --seed N
infer: each slide's probability into slide_results and every patch's attention (raw, and normalised
  to [0,1] per slide) into patches of a 'mil' run. Resumable per slide. Each slide is also compared with
  the slides the model was trained on (stain, nucleus size at the stated µm/px, focus): one line per slide,
  'NAME: p=0.93' or 'NAME: p=0.93  OUT OF DISTRIBUTION: <reason>', and the verdict into the store.
  --labels CSV        optional reference labels, kept with the results
  --threshold X       probability for a positive call (default 0.5)
`;

function flags(argv: string[]) {
  return parseFlags(argv, {
    db: { type: 'string' },
    labels: { type: 'string' },
    out: { type: 'string' },
    val: { type: 'string' },
    'val-fraction': { type: 'string' },
    kind: { type: 'string' },
    epochs: { type: 'string' },
    patience: { type: 'string' },
    warmup: { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    dropout: { type: 'string' },
    hidden: { type: 'string' },
    attention: { type: 'string' },
    'max-instances': { type: 'string' },
    'bags-per-step': { type: 'string' },
    'no-class-weights': { type: 'boolean' },
    seed: { type: 'string' },
    model: { type: 'string' },
    'embed-run': { type: 'string' },
    threshold: { type: 'string' },
  });
}

async function train(argv: string[]): Promise<number> {
  const p = flags(argv);
  const kind = stringFlag(p, 'kind') ?? 'attention';
  if (kind !== 'attention' && kind !== 'max')
    throw new ConfigError(`--kind must be attention or max, got '${kind}'`);
  const labels = readLabelsCsv(stringFlag(p, 'labels', true));
  const valPath = stringFlag(p, 'val');
  const outDir = stringFlag(p, 'out', true);
  const config = {
    kind: kind as MilKind,
    epochs: numberFlag(p, 'epochs', { integer: true, min: 1 }),
    patience: numberFlag(p, 'patience', { integer: true, min: 0 }),
    warmupEpochs: numberFlag(p, 'warmup', { integer: true, min: 0 }),
    learningRate: numberFlag(p, 'lr', { min: 1e-9 }),
    weightDecay: numberFlag(p, 'weight-decay', { min: 0 }),
    dropout: numberFlag(p, 'dropout', { min: 0, max: 0.95 }),
    hiddenDim: numberFlag(p, 'hidden', { integer: true, min: 1 }),
    attentionDim: numberFlag(p, 'attention', { integer: true, min: 1 }),
    maxInstances: numberFlag(p, 'max-instances', { integer: true, min: 1 }),
    bagsPerStep: numberFlag(p, 'bags-per-step', { integer: true, min: 1 }),
    classWeights: boolFlag(p, 'no-class-weights') ? ('none' as const) : undefined,
    seed: numberFlag(p, 'seed', { integer: true }),
  };
  const store = openStore(stringFlag(p, 'db', true));
  try {
    await initBackend();
    const r = await trainMilFromStore(store, {
      labels,
      valLabels: valPath ? readLabelsCsv(valPath) : undefined,
      valFraction: numberFlag(p, 'val-fraction', { default: 0.25, min: 0, max: 0.9 }),
      outDir,
      embedRun: numberFlag(p, 'embed-run', { integer: true, min: 1 }),
      config,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const auc = r.metrics.valAuc !== undefined ? `, validation AUC ${r.metrics.valAuc.toFixed(3)}` : '';
    process.stdout.write(
      `MIL model (${r.config.kind}) saved to ${outDir}: best epoch ${r.metrics.bestEpoch} of ${r.metrics.epochsRun}${auc}\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}

async function infer(argv: string[]): Promise<number> {
  const p = flags(argv);
  const labelsPath = stringFlag(p, 'labels');
  const store = openStore(stringFlag(p, 'db', true));
  try {
    await initBackend();
    const r = await inferMilToStore(store, {
      modelDir: stringFlag(p, 'model', true),
      embedRun: numberFlag(p, 'embed-run', { integer: true, min: 1 }),
      labels: labelsPath ? readLabelsCsv(labelsPath) : undefined,
      threshold: numberFlag(p, 'threshold', { default: 0.5, min: 0, max: 1 }),
    });
    for (const s of r.scores) process.stdout.write(`${slideScoreLine(s.name, s.probability, s.ood)}\n`);
    if (!r.oodReference)
      process.stderr.write(
        'note: this MIL model has no statistics of its training slides: no out-of-distribution verdicts\n',
      );
    process.stdout.write(
      `mil run ${r.runId}${r.resumed ? ' (resumed)' : ''}: ${r.slides} slides scored, ${r.skipped} already done\n`,
    );
    return stageExitCode(r.report, (line) => process.stderr.write(`${line}\n`));
  } finally {
    store.close();
  }
}

/** 'NAME: p=0.9312', with the warning on the same line when the slide is out of distribution. */
export function slideScoreLine(
  name: string,
  probability: number,
  ood?: { outOfDistribution: boolean; reason: string },
): string {
  const p = `${name}: p=${probability.toFixed(4)}`;
  return ood?.outOfDistribution ? `${p}  OUT OF DISTRIBUTION: ${ood.reason}` : p;
}

export const command: Command = {
  name: 'mil',
  summary: 'attention-MIL: train a slide classifier from slide labels, infer slide scores + attention',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'train') return train(rest);
    if (sub === 'infer') return infer(rest);
    throw new ConfigError(`expected 'mil train' or 'mil infer', got '${sub ?? ''}'`);
  },
};
