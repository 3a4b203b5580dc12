/**
 * Plate view of a counting run: the 8×12 (or 16×24) well grid coloured by cell count with a legend.
 * Clicking a well opens its (first) image with the run's cell markers. With QC results (issue 17): a
 * ring marks the plate map's controls, a corner mark the wells with QC-flagged fields, the tooltip
 * gives condition, mean ± SD per field and the flags, and the header the plate's Z′-factor.
 */
import { api, type PlateResponse, type Well } from '../api.ts';
import { gradientLegend, h } from '../dom.ts';
import { formatCount } from '../scale.ts';

/** Colour at t in [0, 1] from evenly spaced CSS hex stops. */
function colourAt(stops: string[], t: number): string {
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(x));
  const f = x - k;
  const a = Number.parseInt(stops[k].slice(1), 16);
  const b = Number.parseInt(stops[k + 1].slice(1), 16);
  const mix = (s: number) => Math.round(((a >> s) & 255) * (1 - f) + ((b >> s) & 255) * f);
  return `rgb(${mix(16)}, ${mix(8)}, ${mix(0)})`;
}

const ROW_NAMES = 'ABCDEFGHIJKLMNOP';

/** The `qc` block of /api/runs/N/wells (store/plate-qc-queries.ts PlateQc). */
interface WellQc {
  condition: string | null;
  concentration: number | null;
  role: string | null;
  fieldsUsed: number;
  mean: number | null;
  sd: number | null;
  cv: number | null;
  flagged: { field: number; flags: string[] }[];
}
interface PlateQcJson {
  zPrime: number | null;
  wells: Record<string, WellQc>;
}

const FLAG_TEXT: Record<string, string> = {
  out_of_focus: 'out of focus',
  empty: 'empty',
  saturated: 'saturated',
  outlier: 'outlier',
};

function qcTitle(w: Well, q: WellQc | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  const cond = [q.condition, q.concentration ?? undefined].filter(
    (v) => v !== null && v !== undefined && v !== '',
  );
  if (cond.length) parts.push(cond.join(' '));
  if (q.role) parts.push(q.role);
  if (q.mean !== null)
    parts.push(
      `${q.mean.toFixed(1)}${q.sd !== null ? ` ± ${q.sd.toFixed(1)}` : ''} per field over ${q.fieldsUsed} of ${w.fields} fields`,
    );
  else parts.push('no field passed QC');
  for (const f of q.flagged)
    parts.push(`field ${f.field}: ${f.flags.map((x) => FLAG_TEXT[x] ?? x).join(', ')}`);
  return ` · ${parts.join(' · ')}`;
}

function zPrimeText(z: number | null): string {
  if (z === null) return 'Z′ —';
  const verdict = z >= 0.5 ? 'excellent' : z > 0 ? 'marginal' : 'controls overlap';
  return `Z′ ${z.toFixed(2)} (${verdict})`;
}

export async function platePage(root: HTMLElement, runId: number, plate: string): Promise<() => void> {
  const data = (await api.wells(runId, plate)) as PlateResponse & { qc?: PlateQcJson };
  const qc = data.qc;
  const byPos = new Map<string, Well>(data.wells.map((w) => [`${w.row},${w.col}`, w]));
  const span = data.max - data.min || 1;
  const grid = h('div', {
    class: 'plate-grid',
    style: `grid-template-columns: 2em repeat(${data.cols}, 1fr)`,
    'data-testid': 'plate-grid',
  });
  grid.append(h('div'));
  for (let c = 0; c < data.cols; c++) grid.append(h('div', { class: 'plate-head' }, c + 1));
  for (let r = 0; r < data.rows; r++) {
    grid.append(h('div', { class: 'plate-head' }, ROW_NAMES[r]));
    for (let c = 0; c < data.cols; c++) {
      const w = byPos.get(`${r},${c}`);
      if (!w) {
        grid.append(h('div', { class: 'well empty', title: `${ROW_NAMES[r]}${c + 1}: no data` }));
        continue;
      }
      const t = (w.count - data.min) / span;
      const first = w.images[0];
      const q = qc?.wells[w.well];
      const classes = ['well'];
      if (q?.role === 'positive' || q?.role === 'negative') classes.push(`role-${q.role}`);
      if (q?.flagged.length) classes.push('flagged');
      grid.append(
        h(
          'button',
          {
            class: classes.join(' '),
            style: `background: ${colourAt(data.stops, t)}; color: ${t > 0.6 ? '#111' : '#fff'}`,
            title: `${w.well}: ${formatCount(w.count)} cells${first ? '' : ' (no image registered)'}${qcTitle(w, q)}`,
            'data-testid': 'well',
            'data-well': w.well,
            'data-flags': q?.flagged.map((f) => `f${f.field}:${f.flags.join('+')}`).join(';') ?? '',
            'data-role': q?.role ?? '',
            disabled: !first,
            onclick: () => {
              if (first) location.hash = `#/slide/${encodeURIComponent(first.slideId)}?cells=${runId}`;
            },
          },
          formatCount(w.count),
        ),
      );
    }
  }
  root.append(
    h(
      'div',
      { class: 'plate-page' },
      h(
        'header',
        { class: 'topbar' },
        h('a', { href: '#/', class: 'back' }, '← Slides'),
        h('h1', {}, `Plate ${plate}`),
        h('span', { class: 'muted' }, `counting run #${runId} · ${data.wells.length} wells`),
        qc ? h('span', { class: 'zprime', 'data-testid': 'zprime' }, zPrimeText(qc.zPrime)) : '',
      ),
      h(
        'main',
        { class: 'plate-main' },
        grid,
        gradientLegend(data.stops, formatCount(data.min), formatCount(data.max), 'cells per well'),
        h('p', { class: 'muted small' }, 'Click a well to open its image with the detected cells.'),
        qc ? qcLegend(qc) : '',
      ),
    ),
  );
  return () => undefined;
}

/** Ring and mark legend, the QC count, and the mean per condition from the plate map. */
function qcLegend(qc: PlateQcJson): HTMLElement {
  const wells = Object.values(qc.wells);
  const flagged = wells.reduce((n, w) => n + w.flagged.length, 0);
  const byCondition = new Map<string, number[]>();
  for (const w of wells) {
    if (!w.condition || w.mean === null) continue;
    const k = `${w.condition}${w.concentration !== null ? ` ${w.concentration}` : ''}`;
    byCondition.set(k, [...(byCondition.get(k) ?? []), w.mean]);
  }
  const rows = [...byCondition].map(([k, v]) =>
    h(
      'tr',
      {},
      h('td', {}, k),
      h('td', {}, v.length),
      h('td', {}, (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)),
    ),
  );
  return h(
    'section',
    { class: 'plate-qc', 'data-testid': 'plate-qc' },
    h(
      'p',
      { class: 'small' },
      h('span', { class: 'swatch role-negative' }),
      ' negative control ',
      h('span', { class: 'swatch role-positive' }),
      ' positive control ',
      h('span', { class: 'swatch flagged' }),
      ` well with QC-flagged fields (${flagged} field${flagged === 1 ? '' : 's'}; left out of the well means unless counted with --keep-flagged)`,
    ),
    rows.length
      ? h(
          'table',
          { class: 'conditions' },
          h('tr', {}, h('th', {}, 'condition'), h('th', {}, 'wells'), h('th', {}, 'mean cells per field')),
          ...rows,
        )
      : '',
  );
}
