/**
 * What a stage supplies to the runner (run-stage.ts): its kind, its identity, a plan for one slide
 * (serialisable tasks plus the state kept on the main thread), and how results become rows.
 */
import type { Progress } from '../progress.ts';
import type { Slide } from '../slide/types.ts';
import type { Store } from '../store/db.ts';
import type { TaskExecutor, TaskKind, TaskPayload, TaskResult } from '../tasks.ts';

/** What makes a run: its config with the content hashes of its inputs (never worker counts or paths). */
export interface StageIdentity {
  config: Record<string, unknown>;
  name?: string;
  modelId?: number;
  parentRunId?: number;
}

/** One input as the runner sees it once resolved: a registered slide (open when the stage reads pixels). */
export interface SlideRef {
  /** The input as given (path, URL or slide id). */
  source: string;
  /** Content id (slides.id). */
  id: string;
  /** A label for messages: the file name. */
  name: string;
  /** Open while the slide is planned and written; closed by the runner. */
  slide?: Slide;
}

export interface StageTask<K extends TaskKind> {
  payload: TaskPayload<K>;
  /** Units of work (patches, tiles, images) for progress and timings. */
  units: number;
}

export interface SlidePlan<S, K extends TaskKind> {
  /** Kept on the main thread until the slide is written. */
  state: S;
  /** Independent tasks; a queue may run them anywhere, in any order. */
  tasks: StageTask<K>[];
  /** Units done without a task (e.g. rows already stored on resume, or work done in `plan`). */
  unitsDone?: number;
}

export interface RunContext {
  store: Store;
  runId: number;
  resumed: boolean;
}

export interface Stage<S, K extends TaskKind> {
  /** Run kind in the store ('patches', 'infer', ...). */
  readonly kind: string;
  /** The task kind its plans hold (tasks of one kind per stage; none for stages that work in `plan`). */
  readonly taskKind?: K;
  /** Name of the units for progress ('patches', 'tiles', ...). */
  readonly unit: string;
  /** What its inputs are called in messages (default 'slides'; 'images' for plate fields). */
  readonly inputs?: string;
  /** Called once per run; may register models in the store for the run row. */
  identity(store: Store): StageIdentity | Promise<StageIdentity>;
  /** Resolves an input to a registered slide (default: open the file and register it). */
  resolve?(ctx: RunContext, source: string): Promise<SlideRef>;
  /** Before the first slide (e.g. sweep temp files of a killed run). */
  begin?(ctx: RunContext): void | Promise<void>;
  /** Removes rows a killed attempt left for an unfinished slide, when the stage writes rows per task. */
  clear?(ctx: RunContext, slide: SlideRef): void;
  plan(ctx: RunContext, slide: SlideRef): Promise<SlidePlan<S, K>>;
  /** Rows of one task's result, as it arrives (optional: otherwise results are kept for `finish`). */
  onResult?(ctx: RunContext, slide: SlideRef, state: S, index: number, result: TaskResult<K>): void;
  /**
   * The slide's last rows; runs inside the transaction that writes its done mark. `results` holds every
   * task's result in plan order, or is empty when `onResult` consumed them. Returns the slide's item count.
   */
  finish(ctx: RunContext, slide: SlideRef, state: S, results: TaskResult<K>[]): number;
  /** After every slide (e.g. an index file); its return value goes into the run's counts. */
  end?(ctx: RunContext): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export interface StageDeps {
  store: Store;
  /** Where tasks run (local pool, main thread, queue); not needed by stages without tasks. */
  executor?: TaskExecutor;
  progress?: Progress;
  /** Inputs: slide paths, URLs or (for store-backed stages) slide ids. */
  inputs: readonly string[];
  /** Slides planned and written at once (default 2). */
  slidesAtOnce?: number;
  /** Tasks in flight over all slides (default 2 × executor size). */
  tasksInFlight?: number;
  /** Level-0 µm/px for slides that do not record it (default resolver). */
  assumeMpp?: number;
}

export interface SlideOutcome {
  source: string;
  slideId?: string;
  name: string;
  status: 'done' | 'skipped' | 'failed';
  items?: number;
  units?: number;
  seconds?: number;
  step?: string;
  error?: string;
}

export interface StageReport {
  kind: string;
  /** What the inputs are called ('slides', 'images'). */
  inputs: string;
  runId: number;
  resumed: boolean;
  slides: SlideOutcome[];
  failed: SlideOutcome[];
  counts: Record<string, unknown>;
  timings: StageTimings;
}

export interface StageTimings {
  wallS: number;
  slides: number;
  units: number;
  slidesPerS: number;
  unitsPerS: number;
  /** Seconds summed over slides per step (steps overlap across slides). */
  steps: { open: number; plan: number; tasks: number; write: number };
}
