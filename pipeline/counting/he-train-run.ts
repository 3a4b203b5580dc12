/**
 * `wsi count train-he`: learn the H&E counter's watershed parameters and write the model file.
 *
 *   wsi count train-he --images DIR_OF_DOT_IMAGES --labelled IMAGE.png [--labelled …] --out FILE.json
 *                      [--f1-floor 0.838] [--name he-watershed] [--quiet]
 *
 * Reports leave-one-group-out cross-validated MAE (groups = MBM patients), the fixed split of the
 * earlier benchmark (first half of the sorted list to train, second half to test), then searches on
 * every image and saves those parameters, with the figures, the split and the command in the file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { type HeModel, heModelId } from './he-counter.ts';
import {
  crossValidate,
  HE_SEARCH_SPACE,
  HE_SEARCH_START,
  HeEvaluator,
  loadDotImages,
  loadLabelledImage,
  searchParameters,
} from './he-train.ts';

/** The F1 of the brightfield preset on MoNuSeg TCGA-18-5592 before issue 17 (bench/count.md). */
export const DEFAULT_F1_FLOOR = 0.838;

export async function runHeTraining(argv: string[]): Promise<HeModel> {
  const p = parseFlags(
    argv,
    {
      images: { type: 'string' },
      labelled: { type: 'string', multiple: true },
      out: { type: 'string' },
      'f1-floor': { type: 'string' },
      name: { type: 'string' },
      quiet: { type: 'boolean' },
    },
    false,
  );
  const images = stringFlag(p, 'images', true);
  const out = stringFlag(p, 'out', true);
  if (!out.endsWith('.json')) throw new ConfigError(`--out must be a .json file, got ${out}`);
  const labelled = (p.values.labelled as string[] | undefined) ?? [];
  const f1Floor = numberFlag(p, 'f1-floor', { default: DEFAULT_F1_FLOOR, min: 0, max: 1 });
  const name = stringFlag(p, 'name') ?? path.basename(out, '.json');
  const quiet = boolFlag(p, 'quiet');
  const log = (s: string) => {
    if (!quiet) process.stderr.write(`${s}\n`);
  };
  const t0 = performance.now();
  const dots = await loadDotImages(images);
  const labels = await Promise.all(labelled.map((f) => loadLabelledImage(f)));
  const ev = new HeEvaluator();
  log(
    `train-he: ${dots.length} dot images in ${new Set(dots.map((d) => d.group)).size} groups, ${labels.length} labelled`,
  );

  const cv = crossValidate(ev, dots, labels, f1Floor);
  for (const f of cv.folds) {
    log(
      `  fold ${f.heldOut}: train MAE ${f.trainMae.toFixed(2)}, held-out MAE ${f.testMae.toFixed(2)} (${JSON.stringify(f.parameters)})`,
    );
  }
  log(`  leave-one-group-out MAE ${cv.mae.toFixed(2)}`);
  const half = Math.floor(dots.length / 2);
  const fixed = searchParameters(ev, dots.slice(0, half), labels, f1Floor);
  const fixedTest = ev.mae(fixed.parameters, dots.slice(half));
  log(`  fixed split (train 1–${half}, test ${half + 1}–${dots.length}): test MAE ${fixedTest.toFixed(2)}`);

  const all = searchParameters(ev, dots, labels, f1Floor);
  log(
    `  all images: train MAE ${all.trainMae.toFixed(2)}, F1 ${all.f1.toFixed(3)} → ${JSON.stringify(all.parameters)}`,
  );
  const model: HeModel = {
    format: 1,
    kind: 'he-watershed',
    id: heModelId(name, all.parameters),
    parameters: all.parameters,
    training: {
      command: `wsi count train-he ${argv.join(' ')}`,
      finishedAt: new Date().toISOString(),
      method:
        'coordinate descent over a fixed grid, minimising mean |count − dots| on the dot images, subject to detection F1 ≥ floor on every labelled image',
      searchSpace: HE_SEARCH_SPACE,
      start: HE_SEARCH_START,
      f1Floor,
      data: {
        dotImages: dots.map((d) => ({ name: d.name, group: d.group, truth: d.truth })),
        labelledImages: labels.map((l) => l.name),
      },
      metrics: {
        trainMae: all.trainMae,
        labelledF1: all.f1,
        crossValidation: {
          split: 'leave one group (patient) out',
          mae: cv.mae,
          folds: cv.folds.map((f) => ({
            heldOut: f.heldOut,
            parameters: f.parameters,
            trainMae: f.trainMae,
            testMae: f.testMae,
          })),
          perImage: cv.folds.flatMap((f) => f.errors),
        },
        fixedSplit: {
          split: `train on images 1–${half} of the sorted list, test on ${half + 1}–${dots.length}`,
          parameters: fixed.parameters,
          trainMae: fixed.trainMae,
          testMae: fixedTest,
        },
      },
      evaluations: ev.evaluations,
      seconds: Math.round((performance.now() - t0) / 1000),
    },
  };
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, `${JSON.stringify(model, null, 1)}\n`);
  log(`  wrote ${out} (${model.id}), ${ev.evaluations} segmentations in ${model.training.seconds} s`);
  return model;
}
