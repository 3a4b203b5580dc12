/** `wsi serve` as a user runs it: registers the given slides, prints the URL, serves, stops on SIGTERM; bad flags fail in one line. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/viewer-fixtures.ts';

const WSI = join(REPO_ROOT, 'bin/wsi.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'wsi-serve-cli-'));

describe('wsi serve', () => {
  it('registers a slide directory, prints a 127.0.0.1 URL, serves it, and exits 0 on SIGTERM', async () => {
    const db = join(tmp(), 'r.sqlite');
    const proc = spawn(
      process.execPath,
      [WSI, 'serve', '--db', db, '--slides', join(REPO_ROOT, 'fixtures/slides'), '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      proc.on('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    expect(out).toContain('2 slide(s)');
    const slides = (await (await fetch(`${url}api/slides`)).json()) as { name: string }[];
    expect(slides.map((s) => s.name).sort()).toEqual([
      'CMU-1-Small-Region.svs',
      'tcga-cr-7395-01a-01-ts1.svs',
    ]);
    const exit = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it.each([
    [['--port', 'abc'], /--port must be a number/],
    [['--port', '70000'], /--port must be at most 65535/],
    [['--format', 'gif'], /--format must be jpeg or png/],
    [['--slides', '/nonexistent/slides'], /no such file or directory/],
    [['--tile-size', '10'], /--tile-size must be at least 64/],
  ])('refuses %j with a one-line error and exit code 1', (args, message) => {
    const r = spawnSync(process.execPath, [WSI, 'serve', '--db', join(tmp(), 'r.sqlite'), ...args], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
