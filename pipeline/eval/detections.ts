/**
 * Lesion detections: the CAMELYON per-slide CSV (`confidence,X,Y`, level-0 pixels, no header) and
 * detections picked from a patch score map by non-maximum suppression.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { Detection } from './froc.ts';

export function parseDetectionsCsv(text: string, source = 'CSV'): Detection[] {
  const out: Detection[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const parts = line.split(',').map((s) => s.trim());
    if (i === 0 && parts.length >= 3 && !Number.isFinite(Number(parts[0])) && parts[0] !== '') continue; // header
    if (parts.length < 3)
      throw new ConfigError(`${source}:${i + 1}: expected 'confidence,X,Y', got '${line}'`);
    const [p, x, y] = parts.slice(0, 3).map(Number);
    if (![p, x, y].every(Number.isFinite) || parts.slice(0, 3).some((s) => s === ''))
      throw new ConfigError(`${source}:${i + 1}: not numbers: '${line}'`);
    // The official reader truncates coordinates to integers.
    out.push({ p, x: Math.trunc(x), y: Math.trunc(y) });
  }
  return out;
}

export function readDetectionsCsv(path: string): Detection[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read detections file ${path}`);
  }
  return parseDetectionsCsv(text, path);
}

function formatDetectionsCsv(detections: readonly Detection[]): string {
  return (
    detections.map((d) => `${d.p},${Math.round(d.x)},${Math.round(d.y)}`).join('\n') +
    (detections.length ? '\n' : '')
  );
}

export function writeDetectionsCsv(path: string, detections: readonly Detection[]): void {
  writeFileSync(path, formatDetectionsCsv(detections));
}

/** A scored point of a slide (e.g. a patch centre), level-0 pixels. */
export interface ScoredPoint {
  x: number;
  y: number;
  score: number;
}

/**
 * Local maxima of a score map by greedy non-maximum suppression: points at or above `threshold`, taken
 * from the highest score down, each kept only if no kept point lies within `radius` level-0 pixels.
 */
export function detectionsFromScores(
  points: readonly ScoredPoint[],
  options: { threshold?: number; radius: number; max?: number },
): Detection[] {
  const threshold = options.threshold ?? 0.5;
  const max = options.max ?? 1000;
  const r2 = options.radius * options.radius;
  const candidates = points.filter((p) => p.score >= threshold).sort((a, b) => b.score - a.score);
  // Bucket kept detections in a coarse grid so the neighbour test stays cheap on big maps.
  const cell = Math.max(1, options.radius);
  const buckets = new Map<string, Detection[]>();
  const kept: Detection[] = [];
  for (const c of candidates) {
    if (kept.length >= max) break;
    const bx = Math.floor(c.x / cell);
    const by = Math.floor(c.y / cell);
    let near = false;
    for (let dy = -1; dy <= 1 && !near; dy++) {
      for (let dx = -1; dx <= 1 && !near; dx++) {
        for (const k of buckets.get(`${bx + dx},${by + dy}`) ?? []) {
          if ((k.x - c.x) ** 2 + (k.y - c.y) ** 2 < r2) {
            near = true;
            break;
          }
        }
      }
    }
    if (near) continue;
    const d = { p: c.score, x: c.x, y: c.y };
    kept.push(d);
    const key = `${bx},${by}`;
    const list = buckets.get(key);
    if (list) list.push(d);
    else buckets.set(key, [d]);
  }
  return kept;
}
