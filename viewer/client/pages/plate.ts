/**
 * Plate view of a counting run: the 8×12 (or 16×24) well grid coloured by cell count with a legend.
 * Clicking a well opens its (first) image with the run's cell markers.
 */
import { api, type Well } from '../api.ts';
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

export async function platePage(root: HTMLElement, runId: number, plate: string): Promise<() => void> {
  const data = await api.wells(runId, plate);
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
      grid.append(
        h(
          'button',
          {
            class: 'well',
            style: `background: ${colourAt(data.stops, t)}; color: ${t > 0.6 ? '#111' : '#fff'}`,
            title: `${w.well}: ${formatCount(w.count)} cells${first ? '' : ' (no image registered)'}`,
            'data-testid': 'well',
            'data-well': w.well,
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
      ),
      h(
        'main',
        { class: 'plate-main' },
        grid,
        gradientLegend(data.stops, formatCount(data.min), formatCount(data.max), 'cells per well'),
        h('p', { class: 'muted small' }, 'Click a well to open its image with the detected cells.'),
      ),
    ),
  );
  return () => undefined;
}
