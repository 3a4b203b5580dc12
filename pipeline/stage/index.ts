export { inlineExecutor } from './inline-executor.ts';
export { createLimit, forEachLimited } from './limit.ts';
export { stageExitCode } from './report.ts';
export { failureSummary, oneLine, openAndRegister, runStage } from './run-stage.ts';
export type * from './types.ts';
