/** `wsi region`: write one region of a slide, at a level or at a µm/px, to an image file. */
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import { imageFormatFor, writeRgbImage } from '../slide/write-image.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi region <slide> --x X --y Y --width W --height H (--level L | --mpp M) -o out.png [--assume-mpp A]

x, y are level-0 pixels. With --level, width and height are pixels of that level (as OpenSlide's
read_region). With --mpp, the output is W × H pixels at M µm/px, read from the best level and resized.
Areas outside the slide are white. --assume-mpp A supplies the slide's µm/px when the file lacks it.
`;

export const command: Command = {
  name: 'region',
  summary: 'write a region of a slide at a level or µm/px to an image file',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      x: { type: 'string' },
      y: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      level: { type: 'string' },
      mpp: { type: 'string' },
      'assume-mpp': { type: 'string' },
      output: { type: 'string', short: 'o' },
    });
    if (p.positionals.length !== 1) throw new ConfigError('give exactly one slide path or URL');
    const x = numberFlag(p, 'x', { required: true, integer: true });
    const y = numberFlag(p, 'y', { required: true, integer: true });
    const width = numberFlag(p, 'width', { required: true, integer: true, min: 1, max: 16_384 });
    const height = numberFlag(p, 'height', { required: true, integer: true, min: 1, max: 16_384 });
    const level = numberFlag(p, 'level', { integer: true, min: 0 });
    const mpp = numberFlag(p, 'mpp', { min: Number.MIN_VALUE });
    const assumeMpp = numberFlag(p, 'assume-mpp', { min: Number.MIN_VALUE });
    const out = stringFlag(p, 'output', true);
    imageFormatFor(out);
    if ((level === undefined) === (mpp === undefined))
      throw new ConfigError('give exactly one of --level or --mpp');
    const slide = await openSlide(p.positionals[0], { fallbackMpp: assumeMpp });
    try {
      const img =
        level !== undefined
          ? await slide.readRegion({ x, y, width, height, level })
          : await slide.readAt({ x, y, width, height, mpp: mpp! });
      await writeRgbImage(img, out);
      process.stdout.write(`${out}: ${img.width} × ${img.height}\n`);
    } finally {
      await slide.close();
    }
    return 0;
  },
};
