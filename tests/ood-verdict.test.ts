/**
 * Out-of-distribution verdicts: training-slide statistics (stain vectors, concentration range, nucleus
 * size at the stated µm/px) against slides from the training centre, a far centre and a wrong scale, and
 * the verdicts' store table (migration 005).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CENTRES } from '../fixtures/camelyon/centre.ts';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import { readOodVerdicts, writeOodVerdict } from '../pipeline/ood/store.ts';
import { buildOodReference, oodVerdict, type SlideStats, slideStats } from '../pipeline/ood/verdict.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { beginRun, openStore, upsertSlide } from '../pipeline/store/index.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('ood');
afterAll(() => tmp.cleanup());

const stats = async (file: string): Promise<SlideStats> => {
  const s = await openSlide(file);
  try {
    return await slideStats(s);
  } finally {
    await s.close();
  }
};

describe('verdict rules', () => {
  const base: SlideStats = {
    h: [0.65, 0.7, 0.29],
    e: [0.07, 0.99, 0.11],
    maxConc: [1.5, 1],
    nucleusUm: 6,
    sharpness: 0.18,
  };
  const ref = buildOodReference([
    base,
    { ...base, h: [0.62, 0.72, 0.3], maxConc: [1.3, 1.1], nucleusUm: 6.3 },
    { ...base, e: [0.1, 0.98, 0.14], maxConc: [1.7, 0.9], nucleusUm: 5.8 },
  ]);
  it('passes a slide like the training slides', () => {
    expect(oodVerdict(ref, { ...base, nucleusUm: 6.1 })).toMatchObject({
      outOfDistribution: false,
      reason: '',
    });
  });
  it('says to check the µm/px when nuclei look 4× smaller, and names the stain when it differs', () => {
    const small = oodVerdict(ref, { ...base, nucleusUm: 1.5 }, 0.25);
    expect(small.outOfDistribution).toBe(true);
    expect(small.reason).toMatch(
      /nuclei look 4\.0× smaller .* at the stated 0\.25 µm\/px\): check the slide's µm\/px/,
    );
    expect(oodVerdict(ref, { ...base, nucleusUm: 15 }).reason).toMatch(/2\.5× larger/);
    const blue = oodVerdict(ref, { ...base, h: [0.95, 0.3, 0.05] });
    expect(blue.reason).toMatch(/^haematoxylin colour [\d.]+° from the training slides'/);
    expect(oodVerdict(ref, { ...base, maxConc: [0.5, 1] }).reason).toMatch(/haematoxylin much weaker/);
    expect(oodVerdict(ref, { ...base, sharpness: 0.03 }).reason).toMatch(/much blurrier than in training/);
  });
});

describe('synthetic centres', () => {
  const train: string[] = [];
  const held: string[] = [];
  let far = '';
  let wrongScale = '';
  let paleBlue = '';
  beforeAll(async () => {
    const gen = async (name: string, seed: number, slides: number, centre?: string) =>
      (
        await generateSyntheticSet({
          out: join(tmp.path, name),
          slides,
          seed,
          size: 2048,
          tumourShare: 0.5,
          centre: centre ? CENTRES[centre] : undefined,
        })
      ).map((s) => s.file);
    train.push(...(await gen('train', 21, 4)));
    held.push(...(await gen('held', 22, 4)));
    far = (await gen('far', 23, 1, 'far'))[0];
    wrongScale = (await gen('wrong', 24, 1, 'wrong-scale'))[0];
    paleBlue = (await gen('pale', 25, 1, 'pale-blue'))[0];
  }, 300_000);

  it('fires on a far centre and a wrong scale, rarely on held-out slides of the training centre', async () => {
    const ref = buildOodReference(await Promise.all(train.map(stats)));
    const heldVerdicts = [];
    for (const f of held) heldVerdicts.push(oodVerdict(ref, await stats(f), 0.25));
    const fired = heldVerdicts.filter((v) => v.outOfDistribution);
    process.stderr.write(
      `OOD on held-out training-centre slides: ${fired.length}/${held.length}${fired.map((v) => ` [${v.reason}]`).join('')}\n`,
    );
    expect(fired.length).toBeLessThanOrEqual(1);
    const vf = oodVerdict(ref, await stats(far), 0.25);
    expect(vf.outOfDistribution).toBe(true);
    expect(vf.reason).toMatch(/haematoxylin colour|eosin colour/);
    const vw = oodVerdict(ref, await stats(wrongScale), 0.25);
    expect(vw.outOfDistribution).toBe(true);
    expect(vw.reason).toMatch(/nuclei look [\d.]+× smaller.*check the slide's µm\/px/);
    // Issue 16's failing centre (paler, bluer H, stronger E, 0.5 µm blur, JPEG 70): caught by its focus.
    const vp = oodVerdict(ref, await stats(paleBlue), 0.25);
    process.stderr.write(`far: ${vf.reason}\nwrong-scale: ${vw.reason}\npale-blue: ${vp.reason}\n`);
    expect(vp.outOfDistribution).toBe(true);
  }, 300_000);

  it('stores one verdict per run and slide; a rerun replaces it', async () => {
    const store = openStore(join(tmp.path, 'ood.sqlite'));
    try {
      const slide = await openSlide(far);
      const id = upsertSlide(store, slide);
      await slide.close();
      const { runId } = beginRun(store, 'infer', { test: 'ood' });
      const v = {
        outOfDistribution: true,
        reason: 'x',
        stats: { h: [1, 0, 0], e: [0, 1, 0], maxConc: [1, 1] },
      } as const;
      writeOodVerdict(store, runId, id, { ...v, h: undefined } as never);
      writeOodVerdict(store, runId, id, { ...v, reason: 'y' } as never);
      const read = readOodVerdicts(store, runId);
      expect(read.size).toBe(1);
      expect(read.get(id)).toEqual({ slideId: id, outOfDistribution: true, reason: 'y' });
    } finally {
      store.close();
    }
  });
});
