import { spawnSync } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { CMU_SLIDE, repoRoot, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('slide-cli');
afterAll(() => tmp.cleanup());

function wsi(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/wsi.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('wsi info / region / thumbnail', () => {
  it('info --json prints exactly one object with the documented keys; mpp null when unknown', () => {
    const r = wsi('info', TCGA_SLIDE, '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const info = JSON.parse(lines[0]);
    expect(Object.keys(info).sort()).toEqual(
      ['associatedImages', 'format', 'height', 'levels', 'mpp', 'objectivePower', 'width'].sort(),
    );
    expect(info.mpp).toBeNull();
    expect(info.objectivePower).toBeNull();
    expect(info.levels).toHaveLength(2);
    expect(info.levels[1]).toMatchObject({ width: 2221, height: 1783, tileWidth: 256, tileHeight: 256 });
    const text = wsi('info', CMU_SLIDE);
    expect(text.stdout).toMatch(/0\.499 × 0\.499 µm\/px/);
    expect(text.stdout).toMatch(/thumbnail, label, macro/);
    expect(wsi('info', TCGA_SLIDE).stdout).toMatch(/mpp: +unknown/);
  });

  it('region writes the requested pixels; --mpp without MPP fails in one line unless --assume-mpp', async () => {
    const out = path.join(tmp.path, 'r.png');
    const ok = wsi(
      'region',
      CMU_SLIDE,
      '--x',
      '0',
      '--y',
      '0',
      '--width',
      '33',
      '--height',
      '21',
      '--level',
      '0',
      '-o',
      out,
    );
    expect(ok.code).toBe(0);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([33, 21]);
    expect([...data.subarray(0, 3)]).toEqual([221, 182, 221]);

    const bad = wsi(
      'region',
      TCGA_SLIDE,
      '--x',
      '0',
      '--y',
      '0',
      '--width',
      '8',
      '--height',
      '8',
      '--mpp',
      '1',
      '-o',
      out,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/MissingResolutionError.*--assume-mpp/);

    const assumed = path.join(tmp.path, 'a.png');
    const r = wsi(
      'region',
      TCGA_SLIDE,
      '--x',
      '0',
      '--y',
      '0',
      '--width',
      '50',
      '--height',
      '40',
      '--mpp',
      '1',
      '--assume-mpp',
      '0.25',
      '-o',
      assumed,
    );
    expect(r.code).toBe(0);
    expect((await sharp(assumed).metadata()).width).toBe(50);
  });

  it('thumbnail fits the slide into --max keeping the aspect ratio', async () => {
    const out = path.join(tmp.path, 't.png');
    const r = wsi('thumbnail', CMU_SLIDE, '--max', '300', '-o', out);
    expect(r.code).toBe(0);
    const m = await sharp(out).metadata();
    expect([m.width, m.height]).toEqual([Math.round((2220 * 300) / 2967), 300]);
  });

  it('reports a missing path and a non-slide file in one line, exit 1, no stack', () => {
    const missing = wsi('info', path.join(tmp.path, 'missing.svs'));
    const notSlide = wsi('info', path.join(repoRoot, 'package.json'));
    for (const r of [missing, notSlide]) {
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(missing.stderr).toMatch(/SlideNotFoundError/);
    expect(notSlide.stderr).toMatch(/SlideFormatError.*not a TIFF/);
  });
});
