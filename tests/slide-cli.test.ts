import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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

  it('region takes negative coordinates: the part over the top-left edge is filled as at the other edges', async () => {
    const rgb = async (file: string) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const px = (img: { data: Buffer; info: { width: number } }, x: number, y: number) => {
      const o = (y * img.info.width + x) * 3;
      return [...img.data.subarray(o, o + 3)];
    };
    const over = path.join(tmp.path, 'over.png');
    const inside = path.join(tmp.path, 'inside.png');
    const bottomRight = path.join(tmp.path, 'bottom-right.png');
    const box = ['--width', '60', '--height', '40', '--level', '0'];
    expect(wsi('region', CMU_SLIDE, '--x', '-20', '--y', '-10', ...box, '-o', over).code).toBe(0);
    expect(wsi('region', CMU_SLIDE, '--x', '0', '--y', '0', ...box, '-o', inside).code).toBe(0);
    // CMU-1-Small-Region is 2220 × 2967: this box hangs 20 px over the right and 10 px over the bottom.
    expect(wsi('region', CMU_SLIDE, '--x=2180', '--y', '2937', ...box, '-o', bottomRight).code).toBe(0);
    const [a, b, c] = [await rgb(over), await rgb(inside), await rgb(bottomRight)];
    expect([a.info.width, a.info.height]).toEqual([60, 40]);
    const fill = px(c, 59, 39);
    for (const [x, y] of [
      [0, 0],
      [19, 39],
      [59, 9],
      [10, 5],
    ])
      expect(px(a, x, y)).toEqual(fill);
    // The slide's pixels sit shifted by (20, 10): the same as reading from (0, 0).
    for (const [x, y] of [
      [0, 0],
      [1, 0],
      [5, 7],
      [39, 29],
    ])
      expect(px(a, x + 20, y + 10)).toEqual(px(b, x, y));
    expect(px(a, 20, 10)).toEqual([221, 182, 221]);
    // At a µm/px too, and the flag value may be given with '='.
    const atMpp = path.join(tmp.path, 'over-mpp.png');
    const r = wsi(
      'region',
      CMU_SLIDE,
      '--x',
      '-100',
      '--y=-50',
      '--width',
      '30',
      '--height',
      '20',
      '--mpp',
      '2',
      '-o',
      atMpp,
    );
    expect(r.code).toBe(0);
    const m = await rgb(atMpp);
    expect(px(m, 0, 0)).toEqual(fill);
    expect(px(m, 29, 19)).not.toEqual(fill);
  });

  it('thumbnail fits the slide into --max keeping the aspect ratio', async () => {
    const out = path.join(tmp.path, 't.png');
    const r = wsi('thumbnail', CMU_SLIDE, '--max', '300', '-o', out);
    expect(r.code).toBe(0);
    const m = await sharp(out).metadata();
    expect([m.width, m.height]).toEqual([Math.round((2220 * 300) / 2967), 300]);
  });

  it('reports an output path it cannot write as FileAccessError in one line, not an unexpected error', () => {
    const blocker = path.join(tmp.path, 'a-file');
    writeFileSync(blocker, 'x');
    const box = ['--x', '0', '--y', '0', '--width', '8', '--height', '8', '--level', '0'];
    for (const out of [path.join(blocker, 'r.png'), path.join(blocker, 'deeper', 'r.png')]) {
      const r = wsi('region', CMU_SLIDE, ...box, '-o', out);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/FileAccessError: mkdir .*a-file/);
    }
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
