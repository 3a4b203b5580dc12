/** `wsi camelyon --train DIR --test DIR --out DIR`: the whole CAMELYON-style study with a markdown report. */
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { runCamelyonStudy } from '../mil/camelyon-study.ts';
import { createPool } from '../pool.ts';
import { ROBUST_DEFAULTS, ROBUST_FLAGS, robustFlags } from '../train/robust-defaults.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi camelyon --train DIR --test DIR --out DIR [options]

Runs the whole study on CAMELYON-style folders (slides in DIR/slides or DIR, ASAP XML in DIR/annotations
or DIR, labels in DIR/reference.csv; e.g. made by \`wsi synth\`):
  patch classifier trained with CASED sampling on the training annotations → FCN heatmaps of every slide →
  patch embeddings (the classifier's features) → attention-MIL trained on the training slide labels only →
  evaluation on the test slides. Writes OUT/report.md (slide AUC with 95% CI for attention-MIL and for the
  FCN max score, ROC plot, CAMELYON16 FROC, attention mass in tumour, top-attention patch galleries) and
  leaves everything in the store (default OUT/study.sqlite) for \`wsi serve\`. Running the same command
  again resumes where it stopped.
  --db FILE          store (default OUT/study.sqlite)
  --train-steps N    CASED training steps of the patch classifier (default 400)
  --train-batch N    patches per training step (default: wsi train's, 32)
  --mpp M            classifier µm/px (default 1)
  --spacing-um U     one MIL instance per U µm of tissue (default 64)
  --mil-epochs N     attention-MIL epochs (default 80, early stopping on validation AUC)
  --stain-norm M     none, reinhard, macenko or vahadane (wsi train --stain-norm; default ${ROBUST_DEFAULTS.stainNorm})
  --augmentation A   off, light or strong augmentation when training the classifier (wsi train --augmentation;
                     default ${ROBUST_DEFAULTS.augment}); --augment = strong, --no-augment = off
  --seed N           default 1
  --workers N        worker threads (default 2)
`;

export const command: Command = {
  name: 'camelyon',
  summary: 'the whole CAMELYON-style study: CASED classifier, FCN heatmaps, embeddings, MIL, report',
  usage,
  async run(argv) {
    const p = parseFlags(
      argv,
      {
        train: { type: 'string' },
        test: { type: 'string' },
        out: { type: 'string' },
        db: { type: 'string' },
        'train-steps': { type: 'string' },
        'train-batch': { type: 'string' },
        mpp: { type: 'string' },
        'spacing-um': { type: 'string' },
        'mil-epochs': { type: 'string' },
        seed: { type: 'string' },
        workers: { type: 'string' },
        ...ROBUST_FLAGS,
      },
      false,
    );
    const workers = numberFlag(p, 'workers', { default: 2, integer: true, min: 1, max: 64 });
    const options = {
      trainDir: stringFlag(p, 'train', true),
      testDir: stringFlag(p, 'test', true),
      outDir: stringFlag(p, 'out', true),
      db: stringFlag(p, 'db'),
      trainSteps: numberFlag(p, 'train-steps', { default: 400, integer: true, min: 1 }),
      trainBatch: numberFlag(p, 'train-batch', { integer: true, min: 2, max: 4096 }),
      mpp: numberFlag(p, 'mpp', { default: 1, min: 0.05, max: 64 }),
      spacingUm: numberFlag(p, 'spacing-um', { default: 64, min: 1 }),
      milEpochs: numberFlag(p, 'mil-epochs', { integer: true, min: 1 }),
      seed: numberFlag(p, 'seed', { default: 1, integer: true }),
      workers,
      ...robustFlags(p),
    };
    const pool = createPool({ workers });
    try {
      const r = await runCamelyonStudy({
        ...options,
        pool,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const fmt = (a: { auc: number; ci95: [number, number] } | null) =>
        a ? `${a.auc.toFixed(3)} [${a.ci95[0].toFixed(3)}, ${a.ci95[1].toFixed(3)}]` : 'n/a';
      process.stdout.write(
        `${r.outDir}/report.md: attention-MIL AUC ${fmt(r.milAuc)}, FCN max-score AUC ${fmt(r.fcnAuc)}` +
          `${r.froc ? `, FROC ${r.froc.froc.toFixed(3)}` : ''}\n`,
      );
      return 0;
    } finally {
      await pool.close();
    }
  },
};
