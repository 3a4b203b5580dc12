/** `wsi audit`: per-group slide AUC, sensitivity/specificity, calibration and OOD share of a run. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { type AuditSlide, auditGroups } from '../audit/metrics.ts';
import { renderAuditReport, writeReliabilityPng } from '../audit/report.ts';
import { ConfigError } from '../errors.ts';
import { readOodVerdicts } from '../ood/store.ts';
import { readLabelsCsv, slideKey } from '../slide-labels.ts';
import { openStore } from '../store/index.ts';
import { slideResultsOfRun } from '../store/mil-queries.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi audit --db FILE --run R --groups groups.csv [--labels reference.csv] [--out DIR]
                 [--threshold 0.5] [--ood-run R2] [--bootstrap 2000]

Audits the slide scores of run R (wsi infer: max score; wsi mil infer: probability) per group of slides.
groups.csv: slide,group[,label] (a header line is fine; label Tumor/Normal or 1/0, or give --labels).
Per group: slide AUC with bootstrap 95% CI, sensitivity and specificity at --threshold, expected calibration
error and a reliability plot, share flagged out of distribution (verdicts of R, or of --ood-run: the FCN run
of a MIL study), and whether the group's AUC is significantly lower than the other slides' (stratified
bootstrap, one-sided, Bonferroni over groups). Writes OUT/audit.md, OUT/audit.json, OUT/reliability.png.
`;

interface GroupRow {
  group: string;
  label?: 0 | 1;
}

function readGroups(path: string): Map<string, GroupRow> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`--groups not found: ${path}`);
  }
  const out = new Map<string, GroupRow>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const c = line.split(/[,;\t]/).map((x) => x.trim().replace(/^"|"$/g, ''));
    if (i === lines.findIndex((l) => l.trim() !== '') && /^(slide|name)$/i.test(c[0])) return; // header
    if (c.length < 2 || !c[0] || !c[1])
      throw new ConfigError(`${path} line ${i + 1}: expected 'slide,group[,label]'`);
    let label: 0 | 1 | undefined;
    if (c[2] !== undefined && c[2] !== '') {
      const v = c[2].toLowerCase();
      label = ['tumor', 'tumour', '1', 'positive'].includes(v)
        ? 1
        : ['normal', '0', 'negative'].includes(v)
          ? 0
          : undefined;
      if (label === undefined) throw new ConfigError(`${path} line ${i + 1}: unknown label '${c[2]}'`);
    }
    out.set(slideKey(c[0]), { group: c[1], label });
  });
  if (!out.size) throw new ConfigError(`${path} lists no slides`);
  return out;
}

export const command: Command = {
  name: 'audit',
  summary: 'per-group AUC (95% CI), sensitivity/specificity, calibration and OOD share of a run',
  usage,
  async run(argv) {
    const p = parseFlags(
      argv,
      {
        db: { type: 'string' },
        run: { type: 'string' },
        groups: { type: 'string' },
        labels: { type: 'string' },
        out: { type: 'string' },
        threshold: { type: 'string' },
        'ood-run': { type: 'string' },
        bootstrap: { type: 'string' },
      },
      false,
    );
    const dbPath = stringFlag(p, 'db', true);
    const runId = numberFlag(p, 'run', { required: true, integer: true, min: 1 });
    const groupsPath = stringFlag(p, 'groups', true);
    const groups = readGroups(groupsPath);
    const labelsPath = stringFlag(p, 'labels');
    const labels = labelsPath ? readLabelsCsv(labelsPath) : undefined;
    const outDir = resolve(stringFlag(p, 'out') ?? '.');
    const threshold = numberFlag(p, 'threshold', { default: 0.5, min: 0, max: 1 });
    const bootstrap = numberFlag(p, 'bootstrap', { default: 2000, integer: true, min: 100, max: 100_000 });
    const store = openStore(dbPath);
    try {
      const results = slideResultsOfRun(store, runId);
      if (!results.length) throw new ConfigError(`run ${runId} has no slide scores in ${dbPath}`);
      const ood = readOodVerdicts(store, numberFlag(p, 'ood-run', { integer: true, min: 1 }) ?? runId);
      const slides: AuditSlide[] = [];
      const skipped: string[] = [];
      for (const r of results) {
        const g = groups.get(slideKey(r.name));
        const label = g?.label ?? labels?.get(slideKey(r.name));
        if (!g || label === undefined || r.score === null) {
          skipped.push(r.name);
          continue;
        }
        const v = ood.get(r.slideId);
        slides.push({
          name: r.name,
          group: g.group,
          label,
          score: r.score,
          outOfDistribution: v?.outOfDistribution,
        });
      }
      if (!slides.length)
        throw new ConfigError(`no slide of run ${runId} has both a group and a label (check ${groupsPath})`);
      const result = auditGroups(slides, { threshold, bootstrap });
      mkdirSync(outDir, { recursive: true });
      await writeReliabilityPng(join(outDir, 'reliability.png'), result.groups);
      writeFileSync(
        join(outDir, 'audit.json'),
        `${JSON.stringify({ run: runId, skipped, ...result }, null, 2)}\n`,
      );
      writeFileSync(
        join(outDir, 'audit.md'),
        renderAuditReport(result, { db: dbPath, run: runId, groups: groupsPath, plot: 'reliability.png' }),
      );
      for (const g of result.groups)
        process.stdout.write(
          `${g.group}: ${g.n} slides, AUC ${g.auc ? g.auc.auc.toFixed(3) : 'n/a'}${g.flagged ? ` LOWER than the rest (p ${g.pLower?.toFixed(4)})` : ''}\n`,
        );
      if (skipped.length) process.stdout.write(`${skipped.length} slide(s) without group or label skipped\n`);
      process.stdout.write(`${join(outDir, 'audit.md')}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
