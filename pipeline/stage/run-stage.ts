/**
 * The one run loop. For each input: resolve (open + register), skip when done, plan, run its tasks through
 * the executor, write its rows and done mark in one transaction. A slide that fails is recorded (input,
 * step, one-line message) and the others go on; the run ends 'failed' naming them, and the same command
 * again retries exactly the failed and unfinished slides. Slides open at once and tasks in flight are
 * bounded, so memory stays flat on a folder of thousands of slides.
 */
import { basename } from 'node:path';
import { ConfigError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import {
  beginRun,
  clearFailure,
  failRun,
  finishRun,
  isSlideDone,
  markSlideDone,
  recordFailure,
  runSlideCounts,
  setRunTimings,
} from '../store/runs.ts';
import { upsertSlide } from '../store/slides.ts';
import type { TaskKind, TaskResult } from '../tasks.ts';
import { createLimit, forEachLimited } from './limit.ts';
import type {
  RunContext,
  SlideOutcome,
  SlideRef,
  Stage,
  StageDeps,
  StageReport,
  StageTimings,
} from './types.ts';

/** "Name: first line of the message", for the store and the summary. */
export function oneLine(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.split('\n')[0]}`;
  return String(err).split('\n')[0];
}

/** Default resolver: open the slide file or URL and register it; it stays open until the slide is written. */
export async function openAndRegister(
  ctx: RunContext,
  source: string,
  assumeMpp?: number,
): Promise<SlideRef> {
  const slide = await openSlide(source, assumeMpp ? { fallbackMpp: assumeMpp } : undefined);
  try {
    const id = upsertSlide(ctx.store, slide);
    return { source, id, name: basename(slide.source), slide };
  } catch (err) {
    await slide.close();
    throw err;
  }
}

export async function runStage<S, K extends TaskKind>(
  stage: Stage<S, K>,
  deps: StageDeps,
): Promise<StageReport> {
  const noun = stage.inputs ?? 'slides';
  if (deps.inputs.length === 0) throw new ConfigError(`no ${noun} given to ${stage.kind}`);
  const { store, progress, executor } = deps;
  const identity = await stage.identity(store);
  const { runId, resumed } = beginRun(store, stage.kind, identity.config, identity);
  const ctx: RunContext = { store, runId, resumed };
  const tasks = createLimit(deps.tasksInFlight ?? Math.max(2, 2 * (executor?.size ?? 1)));
  const steps = { open: 0, plan: 0, tasks: 0, write: 0 };
  const started = performance.now();
  let planned = 0;
  let unitsDone = 0;
  let finished = 0;
  const outcomes: SlideOutcome[] = new Array(deps.inputs.length);

  const tick = (units: number, note: string) => {
    unitsDone += units;
    progress?.tick(units, note);
  };

  async function runTasks(slide: SlideRef, state: S, plan: Awaited<ReturnType<Stage<S, K>['plan']>>) {
    const results: TaskResult<K>[] = [];
    if (plan.tasks.length === 0) return results;
    const kind = stage.taskKind;
    if (!executor || !kind) throw new ConfigError(`the ${stage.kind} stage needs a task executor`);
    let failure: { err: unknown } | undefined;
    const running = new Set<Promise<void>>();
    for (let i = 0; i < plan.tasks.length && !failure; i++) {
      await tasks.acquire();
      if (failure) {
        tasks.release();
        break;
      }
      const task = plan.tasks[i];
      const p: Promise<void> = executor
        .run(kind, task.payload, { jobId: `${runId}/${slide.id}/${i}` })
        .then((r) => {
          if (failure) return;
          if (stage.onResult) stage.onResult(ctx, slide, state, i, r);
          else results[i] = r;
          tick(task.units, slide.name);
        })
        .catch((err) => {
          failure ??= { err };
        })
        .finally(() => {
          tasks.release();
          running.delete(p);
        });
      running.add(p);
    }
    await Promise.all(running);
    if (failure) throw failure.err;
    return results;
  }

  async function runSlide(source: string, index: number): Promise<void> {
    const t0 = performance.now();
    let step: keyof typeof steps = 'open';
    let slide: SlideRef | undefined;
    let mark = t0;
    const lap = () => {
      const now = performance.now();
      steps[step] += (now - mark) / 1000;
      mark = now;
    };
    try {
      slide = await (stage.resolve
        ? stage.resolve(ctx, source)
        : openAndRegister(ctx, source, deps.assumeMpp));
      lap();
      if (isSlideDone(store, runId, slide.id)) {
        outcomes[index] = { source, slideId: slide.id, name: slide.name, status: 'skipped' };
        return;
      }
      step = 'plan';
      stage.clear?.(ctx, slide);
      const plan = await stage.plan(ctx, slide);
      lap();
      const units = plan.tasks.reduce((n, t) => n + t.units, 0) + (plan.unitsDone ?? 0);
      planned += units;
      progress?.setTotal(planned);
      tick(plan.unitsDone ?? 0, slide.name);
      step = 'tasks';
      const results = await runTasks(slide, plan.state, plan);
      lap();
      step = 'write';
      const ref = slide;
      const items = store.db.transaction(() => {
        const n = stage.finish(ctx, ref, plan.state, results);
        markSlideDone(store, runId, ref.id, n);
        clearFailure(store, runId, source, ref.id);
        return n;
      })();
      lap();
      outcomes[index] = {
        source,
        slideId: slide.id,
        name: slide.name,
        status: 'done',
        items,
        units,
        seconds: (performance.now() - t0) / 1000,
      };
    } catch (err) {
      lap();
      const error = oneLine(err);
      recordFailure(store, runId, { source, slideId: slide?.id, step, error });
      outcomes[index] = {
        source,
        slideId: slide?.id,
        name: slide?.name ?? basename(source),
        status: 'failed',
        step,
        error,
      };
    } finally {
      finished++;
      progress?.tick(0, `${finished}/${deps.inputs.length} ${noun}`);
      await slide?.slide?.close().catch(() => {});
    }
  }

  let counts: Record<string, unknown>;
  try {
    await stage.begin?.(ctx);
    await forEachLimited(deps.inputs, deps.slidesAtOnce ?? 2, runSlide);
    counts = { ...runSlideCounts(store, runId), ...((await stage.end?.(ctx)) ?? {}) };
  } catch (err) {
    failRun(store, runId, oneLine(err));
    throw err;
  }
  const wallS = (performance.now() - started) / 1000;
  const worked = outcomes.filter((o) => o.status === 'done').length;
  const timings: StageTimings = {
    wallS,
    slides: worked,
    units: unitsDone,
    slidesPerS: wallS > 0 ? worked / wallS : 0,
    unitsPerS: wallS > 0 ? unitsDone / wallS : 0,
    steps,
  };
  setRunTimings(store, runId, { ...timings });
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length > 0) {
    failRun(store, runId, failureSummary(failed, deps.inputs.length, noun));
    store.db.prepare('UPDATE runs SET counts_json = ? WHERE id = ?').run(JSON.stringify(counts), runId);
  } else finishRun(store, runId, counts);
  progress?.done(
    `run ${runId}${resumed ? ' (resumed)' : ''}: ${worked} done, ` +
      `${outcomes.length - worked - failed.length} already done, ${failed.length} failed`,
  );
  return { kind: stage.kind, inputs: noun, runId, resumed, slides: outcomes, failed, counts, timings };
}

/** "2 of 5 slides failed: a.svs (SlideFormatError: …); b.tif (…)" */
export function failureSummary(failed: readonly SlideOutcome[], total: number, noun = 'slides'): string {
  return `${failed.length} of ${total} ${noun} failed: ${failed.map((f) => `${f.name} (${f.error})`).join('; ')}`;
}
