/**
 * Progress reporting for long work: a redrawn bar with rate and ETA on a TTY,
 * periodic plain lines otherwise (logs, CI). Writes to stderr so stdout stays clean for data.
 */
export interface Progress {
  /** Add `n` finished items. */
  tick(n?: number, note?: string): void;
  /** Change the expected total (e.g. once a grid is known). */
  setTotal(total: number): void;
  /** Finish: print a final summary line. */
  done(note?: string): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  unit?: string;
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  /** Plain-line interval in ms when not on a TTY. */
  intervalMs?: number;
  /** Silence everything (tests, --quiet). */
  quiet?: boolean;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(sec).padStart(2, '0')}s`
      : `${sec}s`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const unit = options.unit ?? 'items';
  const intervalMs = options.intervalMs ?? (tty ? 100 : 5000);
  const start = performance.now();
  let total = options.total;
  let count = 0;
  let lastNote = '';
  let lastDraw = 0;

  const line = (): string => {
    const elapsed = (performance.now() - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const eta = rate > 0 && total > 0 ? (total - count) / rate : Number.NaN;
    const pct = total > 0 ? Math.min(100, (100 * count) / total) : 0;
    const note = lastNote ? ` ${lastNote}` : '';
    if (tty) {
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      return `${options.label} ${bar} ${pct.toFixed(0)}% ${count}/${total} ${unit} ${rate.toFixed(1)}/s ETA ${formatDuration(eta)}${note}`;
    }
    return `${options.label}: ${count}/${total} ${unit} (${pct.toFixed(1)}%), ${rate.toFixed(1)} ${unit}/s, ETA ${formatDuration(eta)}${note}`;
  };

  const draw = (force: boolean): void => {
    if (options.quiet) return;
    const now = performance.now();
    if (!force && now - lastDraw < intervalMs) return;
    lastDraw = now;
    stream.write(tty ? `\r\x1b[K${line()}` : `${line()}\n`);
  };

  return {
    tick(n = 1, note) {
      count += n;
      if (note !== undefined) lastNote = note;
      draw(false);
    },
    setTotal(t) {
      total = t;
    },
    done(note) {
      if (options.quiet) return;
      const elapsed = (performance.now() - start) / 1000;
      const summary = `${options.label}: ${count} ${unit} in ${formatDuration(elapsed)}${note ? ` ${note}` : ''}`;
      stream.write(tty ? `\r\x1b[K${summary}\n` : `${summary}\n`);
    },
  };
}
