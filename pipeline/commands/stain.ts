/** `wsi stain`: a slide's estimated stain, and a stain-normalised thumbnail or region to look at. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import type { RGBImage } from '../slide/types.ts';
import { imageFormatFor, writeRgbImage } from '../slide/write-image.ts';
import { describeEstimate } from '../stain/format.ts';
import {
  checkStainEstimate,
  createTileNormaliser,
  estimateSlideStain,
  parseStainMethod,
  referenceTarget,
  type StainEstimate,
  type StainMethod,
} from '../stain/index.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi stain <slide> [--method macenko|vahadane|reinhard] [-o normalised.png] [--target REF]
                 [--region X,Y,W,H [--level L]] [--max 1024] [--json estimate.json] [--assume-mpp M]

Estimates the slide's stain from its tissue (tissue mask at ~8 µm/px, thumbnail of at most 2048 px; glass
gives the light level) and prints it: H and E optical-density vectors and 99th-percentile concentrations
(macenko, vahadane; the default is macenko) or the tissue's L*a*b* mean and sd (reinhard).
  -o FILE        write the slide (thumbnail fitted into --max px) or --region normalised to the target
  --target REF   a reference slide (its stain is estimated the same way) or a JSON target (wsi stain --json,
                 or a model's wsi-model.json stain target); default for macenko/vahadane: Macenko's
                 published reference matrix; reinhard needs a target
  --region ...   level-0 rectangle to normalise instead of the thumbnail, read at --level (default 0)
  --json FILE    save the estimate (usable as a --target, or as a model's target)
`;

async function loadTarget(spec: string, method: StainMethod): Promise<StainEstimate> {
  if (!existsSync(spec)) throw new ConfigError(`--target not found: ${spec}`);
  if (statSync(spec).isFile() && /\.json$/i.test(spec)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(spec, 'utf8'));
    } catch {
      throw new ConfigError(`--target ${spec} is not valid JSON`);
    }
    // A model sidecar holds its target under `stain.target`.
    const inner = (raw as { stain?: { target?: unknown } }).stain?.target ?? raw;
    const t = checkStainEstimate(inner, `--target ${spec}`);
    if (t.method !== method && !(t.method !== 'reinhard' && method !== 'reinhard'))
      throw new ConfigError(`--target ${spec} is a ${t.method} target; --method is ${method}`);
    return t.method === 'reinhard' ? t : { ...t, method: method as 'macenko' | 'vahadane' };
  }
  const ref = await openSlide(spec);
  try {
    return (await estimateSlideStain(ref, method)).estimate;
  } finally {
    await ref.close();
  }
}

function parseRegion(s: string): [number, number, number, number] {
  const v = s.split(',').map(Number);
  if (v.length !== 4 || !v.every((x) => Number.isInteger(x)) || v[2] < 1 || v[3] < 1 || v[0] < 0 || v[1] < 0)
    throw new ConfigError(`--region must be X,Y,W,H (whole numbers, W and H > 0), got '${s}'`);
  if (v[2] * v[3] > 64e6) throw new ConfigError(`--region ${s} is too large (at most 64 megapixels)`);
  return v as [number, number, number, number];
}

export const command: Command = {
  name: 'stain',
  summary: 'print a slide’s stain vectors (Macenko/Vahadane/Reinhard) and write a stain-normalised image',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      method: { type: 'string' },
      output: { type: 'string', short: 'o' },
      target: { type: 'string' },
      region: { type: 'string' },
      level: { type: 'string' },
      max: { type: 'string' },
      json: { type: 'string' },
      'assume-mpp': { type: 'string' },
    });
    if (p.positionals.length !== 1) throw new ConfigError('give exactly one slide path or URL');
    const method = parseStainMethod(stringFlag(p, 'method') ?? 'macenko', '--method');
    const out = stringFlag(p, 'output');
    if (out) imageFormatFor(out);
    const targetSpec = stringFlag(p, 'target');
    const regionSpec = stringFlag(p, 'region');
    const region = regionSpec ? parseRegion(regionSpec) : undefined;
    const max = numberFlag(p, 'max', { default: 1024, integer: true, min: 16, max: 16_384 });
    const assumeMpp = numberFlag(p, 'assume-mpp', { min: 0.01, max: 1000 });
    if (out && !targetSpec && method === 'reinhard')
      throw new ConfigError('reinhard has no built-in reference: give --target a slide or JSON target');
    const slide = await openSlide(p.positionals[0], { fallbackMpp: assumeMpp });
    try {
      const level = numberFlag(p, 'level', {
        default: 0,
        integer: true,
        min: 0,
        max: slide.levels.length - 1,
      });
      // The target first: a bad --target fails before the slide's own estimate is spent.
      const target = !out
        ? undefined
        : targetSpec
          ? await loadTarget(targetSpec, method)
          : referenceTarget(method as 'macenko' | 'vahadane');
      const { estimate } = await estimateSlideStain(slide, method);
      process.stdout.write(`${describeEstimate(estimate).join('\n')}\n`);
      const jsonOut = stringFlag(p, 'json');
      if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(estimate, null, 2)}\n`);
      if (out && target) {
        if (targetSpec) process.stdout.write(`target: ${describeEstimate(target).join('\n        ')}\n`);
        const img: RGBImage = region
          ? await slide.readRegion({ x: region[0], y: region[1], width: region[2], height: region[3], level })
          : await slide.thumbnail(max);
        const data = createTileNormaliser(estimate, target)(img.data, img.channels);
        await writeRgbImage({ data, width: img.width, height: img.height, channels: 3 }, out);
        process.stdout.write(`${out}: ${img.width} × ${img.height}, normalised (${method})\n`);
      }
    } finally {
      await slide.close();
    }
    return 0;
  },
};
