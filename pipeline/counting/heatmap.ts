/**
 * Plate heatmap PNG: one square per well coloured by its count (viridis), row letters and column numbers,
 * a colour bar with the range. Drawn as SVG and rendered by sharp (librsvg).
 */
import sharp from 'sharp';
import { viridisCss } from '../imaging/viridis.ts';
import { saveImageFile } from '../slide/write-image.ts';
import { PLATE_SHAPE, type PlateFormat, type WellAggregate } from './plate.ts';

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function plateHeatmapSvg(wells: readonly WellAggregate[], format: PlateFormat, title: string): string {
  const { rows, cols } = PLATE_SHAPE[format];
  const cell = format === 96 ? 36 : 20;
  const left = 30;
  const top = 44;
  const width = left + cols * cell + 90;
  const height = top + rows * cell + 16;
  const counts = wells.map((w) => w.count);
  const lo = counts.length ? Math.min(...counts) : 0;
  const hi = counts.length ? Math.max(...counts) : 1;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="16" font-family="sans-serif" font-size="13">${escapeXml(title)}</text>`,
  ];
  const fs = Math.round(cell * 0.35);
  for (let c = 0; c < cols; c++) {
    parts.push(
      `<text x="${left + c * cell + cell / 2}" y="${top - 6}" font-family="sans-serif" font-size="${fs}" text-anchor="middle">${c + 1}</text>`,
    );
  }
  for (let r = 0; r < rows; r++) {
    parts.push(
      `<text x="${left - 6}" y="${top + r * cell + cell / 2 + fs / 3}" font-family="sans-serif" font-size="${fs}" text-anchor="end">${String.fromCharCode(65 + r)}</text>`,
    );
    for (let c = 0; c < cols; c++) {
      parts.push(
        `<rect x="${left + c * cell + 1}" y="${top + r * cell + 1}" width="${cell - 2}" height="${cell - 2}" fill="#e6e6e6"/>`,
      );
    }
  }
  for (const w of wells) {
    const t = hi > lo ? (w.count - lo) / (hi - lo) : 0.5;
    parts.push(
      `<rect x="${left + w.col * cell + 1}" y="${top + w.row * cell + 1}" width="${cell - 2}" height="${cell - 2}" fill="${viridisCss(t)}"/>`,
    );
  }
  const barX = left + cols * cell + 20;
  const barH = rows * cell;
  for (let i = 0; i < 32; i++) {
    parts.push(
      `<rect x="${barX}" y="${top + barH - ((i + 1) * barH) / 32}" width="14" height="${barH / 32 + 0.5}" fill="${viridisCss(i / 31)}"/>`,
    );
  }
  parts.push(
    `<text x="${barX + 18}" y="${top + 10}" font-family="sans-serif" font-size="11">${Math.round(hi)}</text>`,
    `<text x="${barX + 18}" y="${top + barH}" font-family="sans-serif" font-size="11">${Math.round(lo)}</text>`,
    '</svg>',
  );
  return parts.join('');
}

export async function writePlateHeatmap(
  file: string,
  wells: readonly WellAggregate[],
  format: PlateFormat,
  title: string,
): Promise<void> {
  await saveImageFile(sharp(Buffer.from(plateHeatmapSvg(wells, format, title))).png(), file);
}
