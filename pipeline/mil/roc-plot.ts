/** A ROC plot (one or more curves) drawn as SVG and rasterised to PNG with sharp (librsvg). */
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';

export interface RocSeries {
  name: string;
  points: readonly { fpr: number; tpr: number }[];
  auc: number;
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string,
  );
}

function rocSvg(series: readonly RocSeries[], title: string, size = 480): string {
  const m = { l: 56, r: 16, t: 36, b: 48 };
  const w = size - m.l - m.r;
  const h = size - m.t - m.b;
  const px = (fpr: number) => (m.l + fpr * w).toFixed(1);
  const py = (tpr: number) => (m.t + (1 - tpr) * h).toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${size / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#333"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#aaa" stroke-dasharray="4 4"/>`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<text x="${px(t)}" y="${m.t + h + 16}" text-anchor="middle">${t}</text>`,
      `<text x="${m.l - 6}" y="${Number(py(t)) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  parts.push(
    `<text x="${m.l + w / 2}" y="${size - 10}" text-anchor="middle">false-positive rate</text>`,
    `<text x="14" y="${m.t + h / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.t + h / 2})">true-positive rate</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    // Staircase: ROC points joined by straight segments (ties give diagonal steps, as in rocCurve).
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${px(p.fpr)},${py(p.tpr)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2.5"/>`);
    const ly = m.t + h - 12 - (series.length - 1 - i) * 18;
    parts.push(
      `<line x1="${m.l + w - 190}" y1="${ly - 4}" x2="${m.l + w - 170}" y2="${ly - 4}" stroke="${colour}" stroke-width="2.5"/>`,
      `<text x="${m.l + w - 164}" y="${ly}">${escapeXml(`${s.name} (AUC ${s.auc.toFixed(3)})`)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function writeRocPng(path: string, series: readonly RocSeries[], title: string): Promise<void> {
  const png = await sharp(Buffer.from(rocSvg(series, title)))
    .png()
    .toBuffer();
  writeFileSync(path, png);
}
