/** What a command prints after a stage: one line per failed slide or image, and the exit code (1 when any failed). */
import type { StageReport } from './types.ts';

export function stageExitCode(report: StageReport, write: (line: string) => void): number {
  if (report.failed.length === 0) return 0;
  write(
    `${report.kind} run ${report.runId}: ${report.failed.length} of ${report.slides.length} ${report.inputs} failed ` +
      `(rerun the same command to retry them; \`wsi runs ${report.runId}\` lists them):`,
  );
  for (const f of report.failed) write(`  ${f.source}: ${f.error}`);
  return 1;
}
