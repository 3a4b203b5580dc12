/**
 * Slide labels from a CSV in the CAMELYON16 reference layout: one slide per line, `name,label[,...]`
 * (e.g. `test_001,Tumor,Macro,Primary` or `test_002,Normal`). Labels may be Tumor/Normal, positive/
 * negative, 1/0, true/false (any case). A header line is skipped when its label is not a label. Names are
 * matched with or without their file extension. The one parser for `wsi mil` and `wsi eval`; each
 * passes its own name key.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';

const POSITIVE = new Set(['tumor', 'tumour', 'positive', 'pos', '1', 'true', 'metastasis', 'metastases']);
const NEGATIVE = new Set(['normal', 'negative', 'neg', '0', 'false']);

/** Slide name without directory and without a known slide extension, lower-cased: the matching key. */
export function slideKey(name: string): string {
  const base = name.trim().split(/[\\/]/).pop() ?? name;
  return base.replace(/\.(tiff?|svs|ndpi|mrxs|scn|vms|bif|png|jpe?g)$/i, '').toLowerCase();
}

export function parseLabelsCsv(
  text: string,
  source = 'labels CSV',
  key: (name: string) => string = slideKey,
): Map<string, 0 | 1> {
  const labels = new Map<string, 0 | 1>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const cells = line.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ''));
    if (cells.length < 2 || cells[0] === '') {
      throw new ConfigError(`${source} line ${i + 1}: expected 'slide,label', got '${line.trim()}'`);
    }
    const value = cells[1].toLowerCase();
    const label = POSITIVE.has(value) ? 1 : NEGATIVE.has(value) ? 0 : undefined;
    if (label === undefined) {
      if (labels.size === 0 && i === lines.findIndex((l) => l.trim() !== '')) return; // header
      throw new ConfigError(`${source} line ${i + 1}: unknown label '${cells[1]}' (use Tumor/Normal or 1/0)`);
    }
    const name = key(cells[0]);
    const previous = labels.get(name);
    if (previous !== undefined && previous !== label) {
      throw new ConfigError(`${source} line ${i + 1}: slide '${cells[0]}' is labelled both ways`);
    }
    labels.set(name, label);
  });
  if (labels.size === 0) throw new ConfigError(`${source} has no labelled slides`);
  return labels;
}

export function readLabelsCsv(path: string, key: (name: string) => string = slideKey): Map<string, 0 | 1> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`labels file not found: ${path}`);
  }
  return parseLabelsCsv(text, path, key);
}
