/** Output files of an export: one stem per slide (its name, made unique by the content id) and buffered writes. */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { slideStem } from '../eval/tables.ts';
import type { ExportSlide } from '../store/export-queries.ts';

/**
 * File stems per slide id: the slide's name without extension (CAMELYON tools match files to slides by it),
 * with the first 12 characters of the content id appended when two exported slides share a name.
 */
export function slideStems(slides: readonly ExportSlide[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const s of slides) counts.set(slideStem(s.name), (counts.get(slideStem(s.name)) ?? 0) + 1);
  return new Map(
    slides.map((s) => {
      const stem = slideStem(s.name).replace(/[^A-Za-z0-9._-]/g, '_');
      return [s.id, (counts.get(slideStem(s.name)) ?? 0) > 1 ? `${stem}-${s.id.slice(0, 12)}` : stem];
    }),
  );
}

export function outPath(dir: string, file: string): string {
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}

/** Appends text to a file through a 1 MiB buffer, so large exports stream instead of building one string. */
export class TextSink {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.parts.length) writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
