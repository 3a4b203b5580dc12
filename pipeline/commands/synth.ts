/** `wsi synth`: writes a CAMELYON-style synthetic data set (slides, ASAP XML truth, reference CSV). */

import { CENTRES, resolveCentre } from '../../fixtures/camelyon/centre.ts';
import { generateSyntheticSet, parseLesionSpec } from '../../fixtures/camelyon/generate.ts';
import { DEFAULT_LESIONS } from '../../fixtures/camelyon/scene.ts';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { createProgress } from '../progress.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi synth --out DIR --slides N --seed S [--size PX] [--tumour-slides F] [--lesions SPEC] [--prefix NAME]
                 [--centre NAME] [--centre-params JSON]

Writes N synthetic H&E lymph-node slides (pyramidal JPEG TIFF, Aperio-style description, 0.25 µm/px) to
DIR/slides/, ASAP XML ground truth for tumour slides to DIR/annotations/ (CAMELYON16 layout), DIR/reference.csv
(name,Tumor|Normal) and DIR/manifest.json. The same seed always gives the same data set.

  --size PX            level-0 width and height (default 4096 = 1 mm; a few seconds per slide)
  --tumour-slides F    share of slides with tumour, 0..1 (default 0.5)
  --reuse              keep slide files a previous run into DIR wrote with the same content
  --lesions SPEC       lesions per tumour slide, e.g. large:0-1,small:1-2,itc:1-2 (the default);
                       large 450-800 µm, small 220-380 µm, itc (isolated tumour cells) 25-90 µm
  --centre NAME        slides as from another hospital/scanner: ${Object.keys(CENTRES).join(', ')}
                       (stain vectors and strengths, section thickness, white balance, scanner blur and noise,
                       JPEG quality, nuclei size and density; wrong-scale draws everything 4x smaller than
                       the stated 0.25 µm/px). Without it the output is the original generator's, unchanged.
  --centre-params JSON override or set centre fields, e.g. '{"blurUm":0.6,"jpegQuality":70}'
A software test bed, not a claim about real pathology (fixtures/camelyon/README.md).
`;

export const command: Command = {
  name: 'synth',
  summary: 'write a CAMELYON-style synthetic slide set with ASAP XML ground truth',
  usage,
  async run(argv) {
    const p = parseFlags(
      argv,
      {
        out: { type: 'string' },
        slides: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        'tumour-slides': { type: 'string' },
        lesions: { type: 'string' },
        prefix: { type: 'string' },
        reuse: { type: 'boolean' },
        centre: { type: 'string' },
        'centre-params': { type: 'string' },
      },
      false,
    );
    const out = stringFlag(p, 'out', true);
    const slides = numberFlag(p, 'slides', { required: true, integer: true, min: 1, max: 10_000 });
    const seed = numberFlag(p, 'seed', { required: true, integer: true });
    const lesionSpec = stringFlag(p, 'lesions');
    const centreName = stringFlag(p, 'centre');
    const centre = resolveCentre(centreName, stringFlag(p, 'centre-params'));
    const progress = createProgress({ total: slides, label: 'synth', unit: 'slides' });
    const infos = await generateSyntheticSet({
      out,
      slides,
      seed,
      size: numberFlag(p, 'size', { default: 4096, integer: true, min: 1024, max: 200_000 }),
      tumourShare: numberFlag(p, 'tumour-slides', { default: 0.5, min: 0, max: 1 }),
      lesions: lesionSpec ? parseLesionSpec(lesionSpec) : DEFAULT_LESIONS,
      prefix: stringFlag(p, 'prefix'),
      onSlide: (_done, name) => progress.tick(1, name),
      reuse: p.values.reuse === true,
      centre,
      centreName: centreName ?? (centre ? 'custom' : undefined),
    });
    const tumour = infos.filter((s) => s.tumour).length;
    progress.done(`${tumour} tumour, ${infos.length - tumour} normal`);
    process.stdout.write(`${out}: ${infos.length} slides (${tumour} tumour), reference.csv, annotations/\n`);
    return 0;
  },
};
