/** runStage on its own, with a main-thread executor: bounded tasks in flight, the failure policy, resume. */
import { describe, expect, it } from 'vitest';
import { inlineExecutor, runStage, type Stage } from '../pipeline/stage/index.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { getRun, runFailures } from '../pipeline/store/runs.ts';

function fakeSlides(store: Store, ids: string[]): void {
  const ins = store.db.prepare(
    "INSERT OR IGNORE INTO slides (id, path, name, format, width, height, levels_json) VALUES (?, ?, ?, 'test', 1, 1, '[]')",
  );
  for (const id of ids) ins.run(id, `/x/${id}`, `${id}.svs`);
}

/** Each slide: `tasks` echo tasks; a slide named in `bad` fails in its third task. */
function sumStage(tasks: number, bad: Set<string>, seen: string[]): Stage<null, 'echo'> {
  return {
    kind: 'test-sum',
    taskKind: 'echo',
    unit: 'tasks',
    identity: () => ({ config: { tasks } }),
    resolve: async (_ctx, id) => ({ source: id, id, name: `${id}.svs` }),
    async plan(_ctx, s) {
      seen.push(s.id);
      return {
        state: null,
        tasks: Array.from({ length: tasks }, (_, i) => ({
          units: 1,
          payload: { values: bad.has(s.id) && i === 2 ? [Number.NaN] : [i] },
        })),
      };
    },
    finish(ctx, s, _state, results) {
      const sum = results.reduce((a, r) => a + r[0], 0);
      ctx.store.db
        .prepare('INSERT INTO slide_results (run_id, slide_id, score) VALUES (?, ?, ?)')
        .run(ctx.runId, s.id, sum);
      return results.length;
    },
  };
}

describe('runStage', () => {
  it('keeps tasks in flight under the limit, records a failed slide and goes on, retries only it', async () => {
    const store = openStore(':memory:');
    const ids = ['s1', 's2', 's3', 's4'];
    fakeSlides(store, ids);
    let active = 0;
    let peak = 0;
    const executor = inlineExecutor(
      {
        echo: async ({ values }) => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 2));
          active--;
          if (Number.isNaN(values[0])) throw new RangeError('bad value\nsecond line');
          return new Float64Array([values[0]]);
        },
      },
      { size: 3 },
    );
    const seen: string[] = [];
    const first = await runStage(sumStage(20, new Set(['s2']), seen), {
      store,
      executor,
      inputs: ids,
      slidesAtOnce: 3,
      tasksInFlight: 5,
    });
    expect(peak).toBeLessThanOrEqual(5);
    expect(peak).toBeGreaterThan(1);
    expect(first.failed.map((f) => [f.source, f.step, f.error])).toEqual([
      ['s2', 'tasks', 'RangeError: bad value'],
    ]);
    expect(getRun(store, first.runId)?.status).toBe('failed');
    expect(runFailures(store, first.runId).map((f) => f.source)).toEqual(['s2']);
    const sums = store.db.prepare('SELECT slide_id, score FROM slide_results ORDER BY slide_id').all();
    expect(sums).toEqual(['s1', 's3', 's4'].map((slide_id) => ({ slide_id, score: 190 })));

    seen.length = 0;
    const second = await runStage(sumStage(20, new Set(), seen), { store, executor, inputs: ids });
    expect(second.runId).toBe(first.runId);
    expect(seen).toEqual(['s2']); // only the failed slide is planned again
    expect(getRun(store, first.runId)?.status).toBe('done');
    expect(runFailures(store, first.runId)).toEqual([]);
    expect(second.timings.units).toBe(20);
    store.close();
  });
});
