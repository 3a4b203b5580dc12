/** `wsi tissue`: the tissue mask of a slide as a PNG, optionally its outline as GeoJSON and an overlay image. */
import { writeFileSync } from 'node:fs';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { createPool, ownedPoolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, QUEUE_USAGE, queueFlagsOf } from '../queue/cli.ts';
import { stageExecutor } from '../queue/task-executor.ts';
import { openSlide } from '../slide/index.ts';
import { runStage, stageExitCode } from '../stage/index.ts';
import { tissueStage } from '../stages/tissue.ts';
import { openStore } from '../store/db.ts';
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
       wsi tissue <slides or folders> --db results.sqlite [--target-mpp 8] [--assume-mpp M] [--workers N]

Finds the tissue from a low-resolution read (~8 µm/px; Otsu on saturation, closing, opening, small
pieces removed, small holes filled). Writes the mask (white = tissue, one pixel per mask pixel),
the outline as a QuPath GeoJSON FeatureCollection in level-0 pixels, and the slide with the tissue
tinted green. --assume-mpp sets the level-0 µm/px of slides that do not say (default: assume 0.5 for
the clean-up sizes only).
With --db, every slide's tissue fraction, area and outline (GeoJSON) go to the store as a 'tissue' run,
one slide per worker task; rerunning resumes, failed slides are listed and retried.${QUEUE_USAGE}
`;

/** The tissue stage over many slides into the store. */
async function manySlides(paths: string[], db: string, p: ReturnType<typeof parseFlags>): Promise<number> {
  if (paths.length === 0) throw new ConfigError('give slides or folders');
  const assumeMpp = numberFlag(p, 'assume-mpp', { min: 0.01, max: 1000 });
  const stage = tissueStage({ targetMpp: numberFlag(p, 'target-mpp', { min: 0.01, max: 1000 }), assumeMpp });
  const inputs = await expandSlidePaths(paths);
  const store = openStore(db);
  const workers = numberFlag(p, 'workers', { integer: true, min: 1, max: 256 });
  const executor = await stageExecutor(queueFlagsOf(p), store, 'tissue', () =>
    ownedPoolExecutor(createPool({ workers })),
  );
  const progress = createProgress({ total: 0, label: 'tissue', unit: 'slides', quiet: boolFlag(p, 'quiet') });
  try {
    const report = await runStage(stage, {
      store,
      executor,
      progress,
      inputs,
      assumeMpp,
      slidesAtOnce: 2 * executor.size, // one task per slide
    });
    const done = report.slides.filter((s) => s.status === 'done').length;
    process.stdout.write(
      `tissue run ${report.runId}${report.resumed ? ' (resumed)' : ''}: ${done} slides measured\n`,
    );
    return stageExitCode(report, (line) => process.stderr.write(`${line}\n`));
  } finally {
    await executor.close();
    store.close();
  }
}

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
      db: { type: 'string' },
      workers: { type: 'string' },
      quiet: { type: 'boolean' },
      ...QUEUE_FLAGS,
    });
    const db = stringFlag(p, 'db');
    if (db !== undefined) return manySlides(p.positionals, db, p);
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
