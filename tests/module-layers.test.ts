/** No module reaches upward: library code (pipeline/, except the CLI and its commands) never imports
 * pipeline/commands/, workers/ or viewer/. Checked over every import and dynamic import in the source. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/paths.ts';

const pipelineDir = path.join(repoRoot, 'pipeline');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('module layers', () => {
  it('library modules import none of pipeline/commands/, workers/ and viewer/', () => {
    const library = sources(pipelineDir).filter(
      (f) => !f.startsWith(path.join(pipelineDir, 'commands')) && f !== path.join(pipelineDir, 'cli.ts'),
    );
    expect(library.length).toBeGreaterThan(100);
    const upward: string[] = [];
    for (const file of library) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const target = path.resolve(path.dirname(file), m[1] ?? m[2]);
        const inCommands = target.startsWith(`${path.join(pipelineDir, 'commands')}${path.sep}`);
        const inWorkers = target.startsWith(`${path.join(repoRoot, 'workers')}${path.sep}`);
        const inViewer = target.startsWith(`${path.join(repoRoot, 'viewer')}${path.sep}`);
        if (inCommands || inWorkers || inViewer)
          upward.push(`${path.relative(repoRoot, file)} → ${m[1] ?? m[2]}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the check sees an upward import when there is one', () => {
    const line = "import { command as inferCommand } from '../commands/infer.ts';";
    expect([...line.matchAll(IMPORT)].map((m) => m[1])).toEqual(['../commands/infer.ts']);
  });
});
