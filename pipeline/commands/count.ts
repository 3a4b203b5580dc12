/**
 * `wsi count`: count cells in images (a plate or a dataset) or over a slide, or train the density counter.
 * Thin: flags → options → pipeline/counting.
 */
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import type { Command } from './types.ts';

const USAGE = `usage:
  wsi count <images|folder>... [--method auto|he-watershed|density|watershed] [--model DIR]
            [--he-model FILE.json] --out counts.csv [--db results.sqlite] [--plate 96|384]
            [--well-pattern REGEX] [--channel N|NAME] [--plate-map map.csv] [--keep-flagged]
            [--heatmap PNG] [--preset auto|fluorescence|brightfield] [--workers N] [--quiet]
            [--queue redis://HOST:PORT [--attempts N] [--slide-base-url URL]]
  wsi count <slide> --region x,y,w,h | --tissue  --db results.sqlite [--method watershed] [--tile 1024] [--workers N]
  wsi count train --images DIR (--dots DIR | --labels DIR) --out MODEL_DIR [--n 32] [--holdout 30]
            [--seed 1] [--steps 2500] [--sigma 2] [--crop 64] [--batch 8]
            [--normalisation dataset|image] [--no-calibration] [--quiet]
  wsi count train-he --images DOTS_DIR --labelled IMAGE.png [--labelled …] --out FILE.json
            [--f1-floor 0.838] [--name he-watershed] [--quiet]

--method auto (the default) picks the counter per image: brightfield H&E colour images → the shipped
H&E counter (models/he-watershed), dark-background colour images → the density model
(models/density-vgg), one channel of a plate → the watershed (fluorescence preset). Instrument names
(ImageXpress Plate_A01_s1_w1.tif, Operetta/Phenix r01c01f01p01-ch1sk1fk1fl1.tiff) are grouped per field
and one channel counted: --channel by 1-based number or by name from Plate.HTD / Index.idx.xml, else
the nuclear stain (DAPI, Hoechst…), else channel 1; for 16-bit or multi-page TIFF fields --channel
picks the page or sample. Plates also get counts.wells.csv (count per field, mean, SD, CV, QC flags:
out_of_focus, empty, saturated, outlier; flagged fields left out of the means unless --keep-flagged)
and, with --plate-map (well,condition,concentration,role), counts.plates.csv (Z′ per plate) and
counts.conditions.csv. train-he learns the H&E counter's watershed parameters (see models/he-watershed).

Counting writes a CSV with columns image,plate,well,row,column,field,count,mean_area (plate columns are
empty for images whose names carry no well id) and, for plates, a heatmap PNG (default: next to the CSV).
With --db everything goes to the store (images as slides, counts, wells, cell centroids) and a re-run of
the same command resumes. The density method uses models/density-vgg unless --model is given.
Training draws --n images from all but the last --holdout (by name) and validates on those. Inputs are
normalised by the training images' channel statistics (--normalisation image: standardise each image)
and the count is calibrated on the training images (gain and offset, least squares) unless
--no-calibration; both are saved with the model.`;

async function train(argv: string[]): Promise<number> {
  const p = parseFlags(
    argv,
    {
      images: { type: 'string' },
      dots: { type: 'string' },
      labels: { type: 'string' },
      out: { type: 'string' },
      n: { type: 'string' },
      holdout: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      sigma: { type: 'string' },
      crop: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      normalisation: { type: 'string' },
      'no-calibration': { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
    false,
  );
  const images = stringFlag(p, 'images', true);
  const out = stringFlag(p, 'out', true);
  const dots = stringFlag(p, 'dots');
  const labels = stringFlag(p, 'labels');
  if (dots && labels) throw new ConfigError('give either --dots or --labels, not both');
  const normalisation = stringFlag(p, 'normalisation') ?? 'dataset';
  if (normalisation !== 'dataset' && normalisation !== 'image') {
    throw new ConfigError(`--normalisation must be 'dataset' or 'image', got '${normalisation}'`);
  }
  const { runDensityTraining } = await import('../counting/train-run.ts');
  const r = await runDensityTraining({
    images,
    annotations: dots ?? labels,
    kind: labels ? 'labels' : 'dots',
    out,
    n: numberFlag(p, 'n', { default: 32, integer: true, min: 1 }),
    holdout: numberFlag(p, 'holdout', { default: 30, integer: true, min: 0 }),
    quiet: boolFlag(p, 'quiet'),
    config: {
      seed: numberFlag(p, 'seed', { default: 1, integer: true }),
      steps: numberFlag(p, 'steps', { default: 2500, integer: true, min: 1 }),
      sigma: numberFlag(p, 'sigma', { default: 2, min: 0.1 }),
      crop: numberFlag(p, 'crop', { default: 64, integer: true, min: 8 }),
      batch: numberFlag(p, 'batch', { default: 8, integer: true, min: 1 }),
      learningRate: numberFlag(p, 'lr', { default: 2e-3, min: 0 }),
      normalisation,
      calibrate: !boolFlag(p, 'no-calibration'),
    },
  });
  process.stdout.write(
    `${JSON.stringify({ out, n: r.train.length, valImages: r.val.length, valMae: r.valMae, trainMae: r.trainMae, seconds: Math.round(r.seconds) })}\n`,
  );
  return 0;
}

export const command: Command = {
  name: 'count',
  summary: 'count cells (watershed or density) in images, plates or slides; train the density counter',
  usage: USAGE,
  async run(argv) {
    if (argv[0] === 'train') return train(argv.slice(1));
    if (argv[0] === 'train-he')
      return (await import('../counting/he-train-run.ts')).runHeTraining(argv.slice(1)).then(() => 0); // issue 17
    const { runCount } = await import('../counting/count-run.ts');
    return runCount(argv);
  },
};
