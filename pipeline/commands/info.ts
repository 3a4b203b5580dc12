/** `wsi info <slide> [--json]`: what a slide is (format, levels, resolution, associated images). */
import { boolFlag, numberFlag, parseFlags } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { openSlide, type Slide } from '../slide/index.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi info <slide> [--json] [--assume-mpp M]

Prints format, vendor, dimensions, pyramid levels (size, downsample, tile size), microns per pixel
(or "unknown"), objective power and the names of associated images. <slide> is a path or an
http(s) URL (read with range requests).
  --json          one JSON object: format, width, height, levels, mpp ({x,y} or null), objectivePower, associatedImages
  --assume-mpp M  report M µm/px when the file does not say
`;

function slideInfoJson(s: Slide) {
  return {
    format: s.format,
    width: s.width,
    height: s.height,
    levels: s.levels.map((l) => ({
      width: l.width,
      height: l.height,
      downsample: l.downsample,
      tileWidth: l.tileWidth,
      tileHeight: l.tileHeight,
    })),
    mpp: s.mpp ? { x: s.mpp.x, y: s.mpp.y } : null,
    objectivePower: s.objectivePower ?? null,
    associatedImages: [...s.associatedImages],
  };
}

function describe(s: Slide): string {
  const lines = [
    `slide:        ${s.source}`,
    `format:       ${s.format} (vendor ${s.vendor})`,
    `id:           ${s.id}`,
    `dimensions:   ${s.width} × ${s.height} px`,
    `mpp:          ${s.mpp ? `${s.mpp.x} × ${s.mpp.y} µm/px` : 'unknown'}`,
    `objective:    ${s.objectivePower !== undefined ? `${s.objectivePower}×` : 'unknown'}`,
    `associated:   ${s.associatedImages.length ? s.associatedImages.join(', ') : 'none'}`,
    `levels:       ${s.levels.length}`,
  ];
  s.levels.forEach((l, i) => {
    lines.push(
      `  ${i}: ${l.width} × ${l.height}  downsample ${Number(l.downsample.toFixed(4))}  tiles ${l.tileWidth} × ${l.tileHeight}`,
    );
  });
  // DICOM: vendor fields, transfer syntax, and the optical paths / focal planes beyond the one read.
  for (const [k, v] of Object.entries(s.properties))
    if (k.startsWith('dicom.')) lines.push(`${`${k}:`.padEnd(32)} ${v}`);
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  name: 'info',
  summary: 'show a slide’s format, levels, resolution and associated images',
  usage,
  async run(argv) {
    const p = parseFlags(argv, { json: { type: 'boolean' }, 'assume-mpp': { type: 'string' } });
    if (p.positionals.length !== 1)
      throw new ConfigError('give exactly one slide path or URL (wsi info <slide>)');
    const assumeMpp = numberFlag(p, 'assume-mpp', { min: Number.MIN_VALUE });
    const slide = await openSlide(p.positionals[0], { fallbackMpp: assumeMpp });
    try {
      process.stdout.write(
        boolFlag(p, 'json') ? `${JSON.stringify(slideInfoJson(slide))}\n` : describe(slide),
      );
    } finally {
      await slide.close();
    }
    return 0;
  },
};
