/** `wsi thumbnail`: the whole slide fitted into a square, from the best level, to an image file. */
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import { imageFormatFor, writeRgbImage } from '../slide/write-image.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi thumbnail <slide> [--max 1024] -o out.png

Fits the whole slide into --max × --max pixels (aspect kept), reading the coarsest level that is
still fine enough. Never reads the label or macro image.
`;

export const command: Command = {
  name: 'thumbnail',
  summary: 'write a thumbnail of a whole slide to an image file',
  usage,
  async run(argv) {
    const p = parseFlags(argv, { max: { type: 'string' }, output: { type: 'string', short: 'o' } });
    if (p.positionals.length !== 1) throw new ConfigError('give exactly one slide path or URL');
    const max = numberFlag(p, 'max', { default: 1024, integer: true, min: 1, max: 16_384 });
    const out = stringFlag(p, 'output', true);
    imageFormatFor(out);
    const slide = await openSlide(p.positionals[0]);
    try {
      const img = await slide.thumbnail(max);
      await writeRgbImage(img, out);
      process.stdout.write(`${out}: ${img.width} × ${img.height}\n`);
    } finally {
      await slide.close();
    }
    return 0;
  },
};
