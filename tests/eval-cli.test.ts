import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAsapXml } from '../fixtures/camelyon/asap-xml.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'eval-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function wsi(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/wsi.js'), 'eval', ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('wsi eval (CLI)', () => {
  it('prints FROC and sensitivities as JSON for CAMELYON-format folders', () => {
    const det = join(tmp, 'det');
    const truth = join(tmp, 'truth');
    mkdirSync(det);
    mkdirSync(truth);
    // One 1280-px square lesion (at 0.243 µm/px: ~311 µm, a lesion not an ITC) found at 0.8; one FP at 0.9 on a normal slide.
    writeFileSync(
      join(truth, 'tumor_001.xml'),
      formatAsapXml([
        {
          group: '_0',
          points: [
            [3200, 3200],
            [4480, 3200],
            [4480, 4480],
            [3200, 4480],
          ],
        },
      ]),
    );
    writeFileSync(join(det, 'tumor_001.csv'), '0.8,3800,3800\n');
    writeFileSync(join(det, 'normal_001.csv'), '0.9,100,100\n');
    const r = wsi('froc', '--detections', det, '--truth', truth, '--json');
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { froc: number; sensitivities: number[] };
    // Thresholds {0.9} (0.8 is the smallest, dropped as the official all_probs[1:]): (0.5 FP/slide, 0), then (0, 0).
    expect(out.sensitivities).toEqual([0, 0, 0, 0, 0, 0]);
    expect(out.froc).toBe(0);
    // With a zero-probability detection in the set, 0 is the one dropped: the lesion counts at t=0.8 (0.5 FP/slide).
    writeFileSync(join(det, 'normal_002.csv'), '0,50,50\n');
    const r2 = JSON.parse(wsi('froc', '--detections', det, '--truth', truth, '--json').stdout) as {
      sensitivities: number[];
    };
    // FPs {0.9, 0}: t=0.8: 1 FP / 3 slides, sens 1 → rate 1/2 and up: 1; t=0.9: 1/3 FP, 0; rate 1/4 → 0.
    expect(r2.sensitivities).toEqual([0, 1, 1, 1, 1, 1]);
  });

  it('prints AUC with a CI and fails with one line on a bad file', () => {
    const preds = join(tmp, 'preds.csv');
    const labels = join(tmp, 'labels.csv');
    writeFileSync(preds, 'a,0.9\nb,0.1\nc,0.7\nd,0.8\n');
    writeFileSync(labels, 'a,Tumor\nb,Normal\nc,Normal\nd,Tumor\n');
    const r = wsi('auc', '--predictions', preds, '--labels', labels, '--json', '--bootstrap', '200');
    const out = JSON.parse(r.stdout) as { auc: number; ci95: [number, number] };
    expect(out.auc).toBe(1);
    expect(out.ci95).toEqual([1, 1]);
    const bad = wsi('auc', '--predictions', join(tmp, 'missing.csv'), '--labels', labels);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/ConfigError: cannot read predictions file/);
  });
});
