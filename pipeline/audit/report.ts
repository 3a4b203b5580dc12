/** The audit as markdown with a reliability plot per group (SVG rasterised with sharp, as the study's ROC plot). */
import sharp from 'sharp';
import type { AuditResult, GroupAudit } from './metrics.ts';

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const esc = (s: string) =>
  s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);

export function reliabilitySvg(groups: readonly GroupAudit[], size = 480): string {
  const m = { l: 56, r: 16, t: 36, b: 48 };
  const w = size - m.l - m.r;
  const h = size - m.t - m.b;
  const px = (v: number) => (m.l + v * w).toFixed(1);
  const py = (v: number) => (m.t + (1 - v) * h).toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${size / 2}" y="22" text-anchor="middle" font-size="14">Reliability (10 bins): observed tumour rate vs mean score</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#333"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${size / 2}" y="${size - 12}" text-anchor="middle">mean score in bin</text>`,
    `<text x="16" y="${size / 2}" text-anchor="middle" transform="rotate(-90 16 ${size / 2})">tumour rate</text>`,
  ];
  groups.forEach((g, i) => {
    const c = COLOURS[i % COLOURS.length];
    const pts = g.bins.map((b) => `${px(b.meanScore)},${py(b.positiveRate)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const b of g.bins)
      parts.push(
        `<circle cx="${px(b.meanScore)}" cy="${py(b.positiveRate)}" r="${Math.min(8, 2 + Math.sqrt(b.n))}" fill="${c}" fill-opacity="0.5"/>`,
      );
    parts.push(
      `<text x="${m.l + 8}" y="${m.t + 16 + 16 * i}" fill="${c}">${esc(g.group)} (ECE ${g.ece.toFixed(3)})</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

export async function writeReliabilityPng(path: string, groups: readonly GroupAudit[]): Promise<void> {
  await sharp(Buffer.from(reliabilitySvg(groups)))
    .png()
    .toFile(path);
}

const f3 = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(3));
const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(0)}%`);

export function renderAuditReport(
  r: AuditResult,
  o: { db: string; run: number; groups: string; plot: string },
): string {
  const row = (g: GroupAudit) =>
    `| ${g.group} | ${g.n} (${g.positives}) | ${g.auc ? `${f3(g.auc.auc)} [${f3(g.auc.ci95[0])}, ${f3(g.auc.ci95[1])}]` : 'n/a (one class)'} | ` +
    `${f3(g.sensitivity)} | ${f3(g.specificity)} | ${f3(g.ece)} | ${pct(g.oodShare)} | ${f3(g.restAuc)} | ${g.pLower === null ? 'n/a' : g.pLower.toFixed(4)} | ${g.flagged ? '**lower**' : ''} |`;
  return [
    '# Performance audit',
    '',
    `Store \`${o.db}\`, run ${o.run}, groups from \`${o.groups}\`. Operating threshold ${r.threshold}.`,
    '',
    '| group | slides (tumour) | AUC [95% CI] | sensitivity | specificity | ECE | out of distribution | AUC of the rest | p (lower) | flag |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row(r.overall),
    ...r.groups.map(row),
    '',
    `AUC CI: percentile bootstrap over slides (2000 resamples). Flag: stratified bootstrap (${r.bootstrap} resamples) of`,
    `AUC(rest) − AUC(group), one-sided p = share of resamples ≤ 0; flagged when p < ${r.alpha} / ${r.groups.length}`,
    '(Bonferroni over groups). ECE: 10 equal-width score bins, weighted |mean score − tumour rate|.',
    '',
    `![reliability](${o.plot})`,
    '',
  ].join('\n');
}
