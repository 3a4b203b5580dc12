/** `wsi tissue`: the tissue mask of a slide as a PNG, optionally its outline as GeoJSON and an overlay image. */
import { writeFileSync } from 'node:fs';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import {
  detectTissue,
  readMaskImage,
  tissueGeoJson,
  writeMaskPng,
  writeOverlayPng,
} from '../tissue/index.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi tissue <slide> -o mask.png [--geojson out.geojson] [--overlay overlay.png]
                  [--target-mpp 8] [--assume-mpp M]

Finds the tissue from a low-resolution read (~8 µm/px; Otsu on saturation, closing, opening, small
pieces removed, small holes filled). Writes the mask (white = tissue, one pixel per mask pixel),
the outline as a QuPath GeoJSON FeatureCollection in level-0 pixels, and the slide with the tissue
tinted green. --assume-mpp sets the level-0 µm/px of slides that do not say (default: assume 0.5 for
the clean-up sizes only).
`;

export const command: Command = {
  name: 'tissue',
  summary: 'detect tissue: mask PNG, GeoJSON outline, overlay',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      geojson: { type: 'string' },
      overlay: { type: 'string' },
      'target-mpp': { type: 'string' },
      'assume-mpp': { type: 'string' },
    });
    if (p.positionals.length !== 1) throw new ConfigError('give exactly one slide path or URL');
    const out = stringFlag(p, 'output', true);
    if (!/\.png$/i.test(out)) throw new ConfigError(`-o must name a .png file, got '${out}'`);
    const overlay = stringFlag(p, 'overlay');
    if (overlay && !/\.png$/i.test(overlay))
      throw new ConfigError(`--overlay must name a .png file, got '${overlay}'`);
    const geojson = stringFlag(p, 'geojson');
    const targetMpp = numberFlag(p, 'target-mpp', { default: 8, min: 0.01, max: 1000 });
    const assumeMpp = numberFlag(p, 'assume-mpp', { min: 0.01, max: 1000 });
    const slide = await openSlide(p.positionals[0], { fallbackMpp: assumeMpp });
    try {
      const mask = await detectTissue(slide, { targetMpp });
      await writeMaskPng(mask, out);
      if (geojson) writeFileSync(geojson, `${JSON.stringify(tissueGeoJson(mask))}\n`);
      if (overlay) await writeOverlayPng(await readMaskImage(slide, mask.width, mask.height), mask, overlay);
      let n = 0;
      for (const v of mask.data) n += v;
      const um = mask.umPerPixel;
      const area = um ? `, ${((n * um * um) / 1e6).toFixed(2)} mm²` : '';
      process.stdout.write(
        `${out}: ${mask.width} × ${mask.height} (${mask.downsample.toFixed(2)} level-0 px per pixel), ` +
          `tissue ${((100 * n) / mask.data.length).toFixed(1)}%${area}, ${mask.regions.length} piece(s)\n`,
      );
    } finally {
      await slide.close();
    }
    return 0;
  },
};
