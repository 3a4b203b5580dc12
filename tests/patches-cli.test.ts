import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toAsapXml } from '../pipeline/annotations/index.ts';
import { command as patches } from '../pipeline/commands/patches.ts';
import { command as tissue } from '../pipeline/commands/tissue.ts';
import { ConfigError, MissingResolutionError, SlideNotFoundError } from '../pipeline/errors.ts';
import { validatePatchesConfig } from '../pipeline/patches/config.ts';
import { labelPatches, planGrid } from '../pipeline/patches/index.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { loadAnnotations } from '../pipeline/store/annotations-queries.ts';
import { listRuns, openStore } from '../pipeline/store/index.ts';
import { listPatches } from '../pipeline/store/patches-queries.ts';
import { runFailures } from '../pipeline/store/runs.ts';
import { detectTissue } from '../pipeline/tissue/index.ts';
import { CMU_SLIDE, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const quietRun = (argv: string[]) => {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  return patches
    .run([...argv, '--quiet'])
    .finally(() => {
      process.stdout.write = write;
    })
    .then((code) => ({ code, out }));
};

describe('wsi patches', () => {
  const dir = tempDir('patches-cli');
  afterAll(() => dir.cleanup());

  it('validates --config against the schema with errors that name the field', () => {
    expect(
      validatePatchesConfig({ mpp: 0.5, size: 256, minTissue: 0.3, tissue: { closeUm: 4 } }),
    ).toMatchObject({
      size: 256,
    });
    expect(() => validatePatchesConfig({ size: 256, minTissue: 1.5 }, 'run.json')).toThrow(
      /run\.json: field 'minTissue' must be <= 1/,
    );
    expect(() => validatePatchesConfig({ size: 'big' })).toThrow(/field 'size' must be integer/);
    expect(() => validatePatchesConfig({ size: 256, colour: 1 })).toThrow(/unknown field 'colour'/);
    expect(() => validatePatchesConfig({ size: 256, tissue: { close: 4 } })).toThrow(
      /unknown field 'tissue.close'/,
    );
    expect(() => validatePatchesConfig({ size: 256, format: 'gif' })).toThrow(
      /field 'format' must be one of "png", "jpeg"/,
    );
    expect(() => validatePatchesConfig({ size: 256, mpp: 0.5, level: 1 })).toThrow(
      /'mpp' and 'level' exclude each other/,
    );
    const bad = path.join(dir.path, 'bad.json');
    writeFileSync(bad, '{"size": 256, "workers": 0}');
    return expect(patches.run(['--config', bad, CMU_SLIDE, '--db', 'x.sqlite'])).rejects.toThrow(
      /field 'workers' must be >= 1/,
    );
  });

  it('refuses bad flags and slides by name', async () => {
    const db = path.join(dir.path, 'e.sqlite');
    await expect(patches.run([CMU_SLIDE, '--db', db, '--size', '256'])).rejects.toThrow(
      /--mpp M .* or --level L/,
    );
    await expect(
      patches.run([CMU_SLIDE, '--db', db, '--mpp', '0.5', '--level', '0', '--size', '8']),
    ).rejects.toThrow(ConfigError);
    await expect(patches.run([CMU_SLIDE, '--db', db, '--mpp', '0.5'])).rejects.toThrow(/--size is required/);
    await expect(
      patches.run([CMU_SLIDE, '--db', db, '--mpp', '0.5', '--size', '64', '--min-tissue', '3']),
    ).rejects.toThrow(/--min-tissue must be at most 1/);
    // A slide without µm/px fails alone: recorded with its error, exit code 1.
    const noMpp = await quietRun([TCGA_SLIDE, '--db', db, '--mpp', '0.5', '--size', '64']);
    expect(noMpp.code).toBe(1);
    const store = openStore(db);
    const [run] = listRuns(store, 'patches');
    expect(run.status).toBe('failed');
    const [failure] = runFailures(store, run.id);
    store.close();
    expect(failure).toMatchObject({ source: TCGA_SLIDE, step: 'plan' });
    expect(failure.error).toMatch(new RegExp(`^${MissingResolutionError.name}: `));
    await expect(
      patches.run(['/nonexistent.svs', '--db', db, '--mpp', '0.5', '--size', '64']),
    ).rejects.toThrow(SlideNotFoundError);
    await expect(tissue.run([CMU_SLIDE, '-o', 'mask.jpg'])).rejects.toThrow(/-o must name a \.png file/);
  });

  it('records the grid, tissue fractions and annotation labels, and exports one folder per label', async () => {
    const slide = await openSlide(CMU_SLIDE);
    const mask = await detectTissue(slide);
    const expected = planGrid(slide, mask, { resolution: { mpp: 1.0 }, size: 64, minTissue: 0.5 });
    await slide.close();
    // A tumour polygon over part of the tissue, with an exclusion inside it.
    const annDir = path.join(dir.path, 'ann');
    mkdirSync(annDir);
    const annotations = [
      {
        name: 'Annotation 0',
        group: '_0',
        class: 'tumour' as const,
        geometry: 'polygon' as const,
        coords: [
          [900, 1500],
          [1500, 1450],
          [1600, 2200],
          [950, 2300],
        ] as Array<[number, number]>,
      },
      {
        name: 'Annotation 1',
        group: '_2',
        class: 'exclusion' as const,
        geometry: 'polygon' as const,
        coords: [
          [1100, 1700],
          [1300, 1700],
          [1300, 1900],
          [1100, 1900],
        ] as Array<[number, number]>,
      },
    ];
    writeFileSync(path.join(annDir, 'CMU-1-Small-Region.xml'), toAsapXml(annotations));
    const labels = labelPatches(expected, 64, annotations);
    const db = path.join(dir.path, 'r.sqlite');
    const out = path.join(dir.path, 'out');
    const config = path.join(dir.path, 'run.json');
    writeFileSync(config, JSON.stringify({ mpp: 1.0, size: 64, annotations: annDir, unannotated: 'normal' }));
    const { code, out: stdout } = await quietRun([
      CMU_SLIDE,
      '--db',
      db,
      '--config',
      config,
      '--export',
      out,
      '--workers',
      '2',
    ]);
    expect(code).toBe(0);
    const tumour = labels.filter((l) => l === 1).length;
    expect(tumour).toBeGreaterThan(5);
    expect(stdout).toContain(
      `${expected.length} patches from 1 slide(s) (${tumour} tumour, ${expected.length - tumour} normal`,
    );
    const store = openStore(db);
    const [run] = listRuns(store, 'patches');
    expect(run.status).toBe('done');
    const stored = listPatches(store, run.id);
    const byKey = new Map(expected.map((p, i) => [`${p.x},${p.y}`, { p, label: labels[i] }]));
    expect(stored).toHaveLength(expected.length);
    for (const r of stored) {
      const e = byKey.get(`${r.x},${r.y}`);
      expect(e).toBeDefined();
      expect(r).toMatchObject({ width: e?.p.width, level: 0, mpp: 1.0, label: e?.label });
      expect(r.tissue).toBeCloseTo(e?.p.tissue ?? -1, 9);
    }
    expect(loadAnnotations(store, stored[0].slideId).map((a) => a.class)).toEqual(['tumour', 'exclusion']);
    store.close();
    expect(readdirSync(path.join(out, 'tumour'))).toHaveLength(tumour);
    expect(readdirSync(path.join(out, 'normal'))).toHaveLength(expected.length - tumour);
    const csv = readFileSync(path.join(out, 'index.csv'), 'utf8').trim().split('\r\n');
    expect(csv[0]).toBe('file,slide,slide_id,x,y,width,height,level,mpp,tissue,label');
    expect(csv).toHaveLength(expected.length + 1);
    expect(csv.filter((l) => l.startsWith('tumour/'))).toHaveLength(tumour);
    // The same command again is the same run, with nothing left to do.
    const again = await quietRun([
      CMU_SLIDE,
      '--db',
      db,
      '--mpp',
      '1.0',
      '--size',
      '64',
      '--annotations',
      annDir,
      '--unannotated',
      'normal',
      '--export',
      out,
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`run ${run.id} (resumed): ${expected.length} patches from 1 slide(s)`);
    const s2 = openStore(db);
    expect(listRuns(s2, 'patches')).toHaveLength(1);
    s2.close();
  });

  it('works by level on a slide without MPP and writes rows only without --export', async () => {
    const db = path.join(dir.path, 'level.sqlite');
    const r = await quietRun([TCGA_SLIDE, '--db', db, '--level', '1', '--size', '256']);
    expect(r.code).toBe(0);
    const store = openStore(db);
    const [run] = listRuns(store, 'patches');
    const rows = listPatches(store, run.id);
    expect(rows.length).toBeGreaterThan(20);
    store.close();
    expect(rows.every((p) => p.level === 1 && p.mpp === null && p.width === 512 && p.label === null)).toBe(
      true,
    );
  });
});
