/**
 * The slide page: OpenSeadragon on the slide's Deep Zoom pyramid, the layer panel (heatmap with
 * run/value selector, opacity and legend; cells; annotations), the attention gallery (with the saliency of
 * the run's patch classifier beside each patch), and the status bar (status-bar.ts). A run whose model
 * found this slide out of distribution carries the warning and its reason wherever its scores, heatmap or
 * attention are offered: a confident probability is never shown without it.
 */
import OpenSeadragon from 'openseadragon';
import { createAnnotator } from '../annotate.ts';
import { api, type HeatmapInfo, type PatchValue, type SlideDetail, type SlideRun } from '../api.ts';
import { gradientLegend, h } from '../dom.ts';
import { ANNOTATION_COLOURS, type CellMode, OverlayPainter } from '../overlay.ts';
import { formatCount, formatMicrons } from '../scale.ts';
import { createStatusBar } from '../status-bar.ts';

declare global {
  interface Window {
    /** The current OpenSeadragon viewer, for scripting from the console and end-to-end tests. */
    wsiViewer?: OpenSeadragon.Viewer;
  }
}

const ANNOTATION_CLASSES = Object.entries(ANNOTATION_COLOURS);

interface HeatmapChoice {
  runId: number;
  value: PatchValue;
  label: string;
}

const OOD_MARK = '⚠ OUT OF DISTRIBUTION';

function isOod(r: SlideRun | undefined): boolean {
  return r?.ood?.outOfDistribution === true;
}

/** The warning with its reason, for a run that found this slide out of distribution (else empty). */
function oodNote(box: HTMLElement, r: SlideRun | undefined): void {
  box.replaceChildren(
    ...(isOod(r)
      ? [
          h('strong', {}, `⚠ Out of distribution for ${r?.name ?? r?.kind} #${r?.runId}: `),
          h('span', { 'data-testid': 'ood-reason' }, r?.ood?.reason ?? ''),
          h('div', { class: 'small' }, 'Its scores on this slide may be confidently wrong.'),
        ]
      : []),
  );
  box.hidden = !isOod(r);
}

function heatmapChoices(runs: SlideRun[]): HeatmapChoice[] {
  const out: HeatmapChoice[] = [];
  for (const r of runs) {
    const base = r.name ? `${r.name} (#${r.runId})` : `${r.kind} run #${r.runId}`;
    const name = isOod(r) ? `${base} ${OOD_MARK}` : base;
    if (r.scored > 0) out.push({ runId: r.runId, value: 'score', label: `${name}: tumour probability` });
    if (r.attended > 0) out.push({ runId: r.runId, value: 'attention', label: `${name}: attention` });
  }
  // Tumour probability first: it is what a pathologist usually wants to see first.
  return out.sort((a, b) => (a.value === b.value ? 0 : a.value === 'score' ? -1 : 1));
}

function section(title: string, ...children: (Node | null)[]): HTMLElement {
  return h('section', { class: 'panel-section' }, h('h3', {}, title), ...children);
}

export async function slidePage(root: HTMLElement, id: string, params: URLSearchParams): Promise<() => void> {
  const slide: SlideDetail = await api.slide(id);
  const mpp = slide.mppX && slide.mppY ? (slide.mppX + slide.mppY) / 2 : null;

  const viewerEl = h('div', { class: 'viewer', id: 'viewer' });
  const statusBar = createStatusBar({ mpp, objectivePower: slide.objectivePower });

  const mppText = mpp ? `${mpp.toFixed(3)} µm/px` : 'MPP unknown';
  const oodRuns = slide.runs.filter(isOod);
  const runById = new Map(slide.runs.map((r) => [r.runId, r]));
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { href: '#/', class: 'back' }, '← Slides'),
    h('h1', { title: slide.name }, slide.name),
    h(
      'div',
      { class: 'chips' },
      h(
        'span',
        { class: 'chip' },
        `${slide.width.toLocaleString('en')} × ${slide.height.toLocaleString('en')} px`,
      ),
      h('span', { class: `chip${mpp ? '' : ' warn'}` }, mppText),
      slide.objectivePower ? h('span', { class: 'chip' }, `${slide.objectivePower}× scan`) : null,
      h('span', { class: 'chip' }, `${slide.levels.length} level${slide.levels.length > 1 ? 's' : ''}`),
      oodRuns.length
        ? h(
            'span',
            {
              class: 'chip warn',
              'data-testid': 'ood-chip',
              title: oodRuns.map((r) => `${r.name ?? r.kind} #${r.runId}: ${r.ood?.reason}`).join('\n'),
            },
            `⚠ out of distribution for ${oodRuns.length} run${oodRuns.length > 1 ? 's' : ''}`,
          )
        : null,
    ),
  );

  // ----- layer panel -----
  const choices = heatmapChoices(slide.runs);
  const cellRuns = slide.runs.filter((r) => r.cells > 0);
  const attentionRuns = slide.runs.filter((r) => r.attended > 0);

  const heatToggle = h('input', { type: 'checkbox', id: 'layer-heatmap', 'data-testid': 'toggle-heatmap' });
  const heatSelect = h(
    'select',
    { id: 'heatmap-run', 'data-testid': 'heatmap-run' },
    ...choices.map((c, i) => h('option', { value: String(i) }, c.label)),
  );
  const opacity = h('input', {
    type: 'range',
    min: 0,
    max: 100,
    value: 60,
    id: 'heatmap-opacity',
    'data-testid': 'heatmap-opacity',
  });
  const stretchToggle = h('input', {
    type: 'checkbox',
    id: 'heatmap-stretch',
    'data-testid': 'heatmap-stretch',
  });
  const legendBox = h('div', { class: 'legend-box' });
  const heatOod = h('div', { class: 'ood-note', 'data-testid': 'heatmap-ood', hidden: true });
  const heatInfo = h('div', { class: 'muted small' });

  const cellsToggle = h('input', { type: 'checkbox', id: 'layer-cells', 'data-testid': 'toggle-cells' });
  const cellsSelect = h(
    'select',
    { id: 'cells-run' },
    ...cellRuns.map((r) =>
      h(
        'option',
        { value: String(r.runId) },
        `${r.name ?? r.kind} #${r.runId} (${formatCount(r.cells)} cells)`,
      ),
    ),
  );
  const cellsInfo = h('div', { class: 'muted small', 'data-testid': 'cells-info' });

  const annToggle = h('input', {
    type: 'checkbox',
    id: 'layer-annotations',
    'data-testid': 'toggle-annotations',
  });
  const annotateBox = h('div', { class: 'annotate-box' });
  const gallery = h('div', { class: 'gallery', 'data-testid': 'attention-gallery' });
  const gallerySelect = h(
    'select',
    { id: 'attention-run' },
    ...attentionRuns.map((r) =>
      h(
        'option',
        { value: String(r.runId) },
        `${r.name ?? r.kind} #${r.runId}${r.slideScore != null ? ` · slide p=${r.slideScore.toFixed(2)}` : ''}${isOod(r) ? ` ${OOD_MARK}` : ''}`,
      ),
    ),
  );
  const galleryOod = h('div', { class: 'ood-note', 'data-testid': 'attention-ood', hidden: true });

  const panel = h(
    'aside',
    { class: 'panel' },
    section(
      'Heatmap',
      choices.length
        ? h(
            'div',
            {},
            h('label', { class: 'row' }, heatToggle, h('span', {}, 'Show heatmap')),
            heatSelect,
            heatOod,
            h('label', { class: 'row slider' }, h('span', {}, 'Opacity'), opacity),
            h(
              'label',
              { class: 'row small' },
              stretchToggle,
              h('span', {}, 'Stretch colours to the values present'),
            ),
            legendBox,
            heatInfo,
          )
        : h('p', { class: 'muted' }, 'No scored runs for this slide.'),
    ),
    section(
      'Cells',
      cellRuns.length
        ? h(
            'div',
            {},
            h('label', { class: 'row' }, cellsToggle, h('span', {}, 'Show cell markers')),
            cellsSelect,
            cellsInfo,
          )
        : h('p', { class: 'muted' }, 'No counting runs for this slide.'),
    ),
    section(
      'Annotations',
      h(
        'label',
        { class: 'row' },
        annToggle,
        h('span', { 'data-testid': 'annotation-count' }, 'Show outlines'),
      ),
      h(
        'div',
        { class: 'ann-legend small muted' },
        ...ANNOTATION_CLASSES.map(([cls, colour]) =>
          h('span', {}, h('i', { class: 'swatch', style: `border-color: ${colour}` }), cls),
        ),
      ),
      annotateBox,
    ),
    attentionRuns.length ? section('Top attention', gallerySelect, galleryOod, gallery) : null,
  );

  root.append(
    h(
      'div',
      { class: 'slide-page' },
      header,
      h(
        'div',
        { class: 'slide-body' },
        h('div', { class: 'viewer-wrap' }, viewerEl, statusBar.element),
        panel,
      ),
    ),
  );

  // ----- OpenSeadragon -----
  const viewer = OpenSeadragon({
    element: viewerEl,
    prefixUrl: '/assets/osd/',
    tileSources: slide.dzi,
    drawer: 'canvas',
    showNavigator: true,
    navigatorPosition: 'TOP_RIGHT',
    navigatorAutoFade: false,
    navigatorBackground: '#2a2e34',
    navigatorBorderColor: '#4fb3ff',
    navigatorDisplayRegionColor: '#4fb3ff',
    navigatorOpacity: 0.9,
    maxZoomPixelRatio: 2,
    visibilityRatio: 0.5,
    animationTime: 0.6,
    gestureSettingsMouse: { clickToZoom: false },
  });
  const painter = new OverlayPainter(viewer);
  window.wsiViewer = viewer;

  statusBar.attach(viewer);

  // ----- heatmap -----
  let heatToken = 0;
  async function loadHeatmap(): Promise<void> {
    const token = ++heatToken;
    const choice = choices[Number(heatSelect.value)];
    if (!heatToggle.checked || !choice) {
      painter.set({ heatmap: undefined });
      return;
    }
    const stretch = stretchToggle.checked;
    const info: HeatmapInfo = await api.heatmap(choice.runId, slide.id, choice.value, stretch);
    const image = new Image();
    image.src = api.heatmapPngUrl(choice.runId, slide.id, choice.value, stretch);
    await image.decode();
    if (token !== heatToken) return;
    painter.set({ heatmap: { info, image, opacity: Number(opacity.value) / 100 } });
    legendBox.replaceChildren(
      gradientLegend(
        info.stops,
        info.lo.toFixed(info.hi - info.lo < 0.2 ? 3 : 2),
        info.hi.toFixed(info.hi - info.lo < 0.2 ? 3 : 2),
        choice.value === 'score' ? 'tumour probability' : 'attention',
      ),
    );
    const strideUm = mpp ? ` (${formatMicrons(info.strideX * mpp)})` : '';
    heatInfo.textContent = `${formatCount(info.patches)} patches · grid ${info.columns}×${info.rows} · stride ${info.strideX} px${strideUm} · values ${info.min.toFixed(3)}–${info.max.toFixed(3)}`;
    viewerEl.dataset.heatmap = 'ready';
  }
  const showHeatOod = () => oodNote(heatOod, runById.get(choices[Number(heatSelect.value)]?.runId));
  showHeatOod();
  const onHeatChange = () => {
    showHeatOod();
    viewerEl.dataset.heatmap = heatToggle.checked ? 'loading' : 'off';
    loadHeatmap().catch((err: unknown) => {
      heatInfo.textContent = `Heatmap unavailable: ${(err as Error).message}`;
    });
  };
  heatToggle.addEventListener('change', onHeatChange);
  heatSelect.addEventListener('change', onHeatChange);
  stretchToggle.addEventListener('change', onHeatChange);
  opacity.addEventListener('input', () => {
    const hm = painter.state.heatmap;
    if (hm) painter.set({ heatmap: { ...hm, opacity: Number(opacity.value) / 100 } });
  });

  // ----- cells, fetched per viewport -----
  let cellsAbort: AbortController | undefined;
  let cellsTimer = 0;
  /**
   * Cells per viewport: counted per bin first; markers only when cells are far enough apart on screen to
   * be told apart (mean spacing >= 14 px), small dots from 5 px, else the density layer alone.
   */
  async function loadCells(): Promise<void> {
    cellsAbort?.abort();
    if (!cellsToggle.checked || !cellsSelect.value) {
      painter.set({ cells: undefined, cellDensity: undefined });
      cellsInfo.textContent = '';
      viewerEl.dataset.cellsMode = 'off';
      return;
    }
    const item = viewer.world.getItemAt(0);
    if (!item) return;
    const b = item.viewportToImageRectangle(viewer.viewport.getBounds(true));
    const box = { x0: Math.max(0, b.x), y0: Math.max(0, b.y), x1: b.x + b.width, y1: b.y + b.height };
    box.x1 = Math.max(box.x0 + 1, Math.min(slide.width, box.x1));
    box.y1 = Math.max(box.y0 + 1, Math.min(slide.height, box.y1));
    cellsAbort = new AbortController();
    const run = Number(cellsSelect.value);
    const screen = viewerEl.getBoundingClientRect();
    const zoom = item.viewportToImageZoom(viewer.viewport.getZoom(true));
    const cols = Math.max(1, Math.min(256, Math.round(((box.x1 - box.x0) * zoom) / 12)));
    const rows = Math.max(1, Math.min(256, Math.round(((box.y1 - box.y0) * zoom) / 12)));
    const density = await api.cellDensity(run, slide.id, box, cols, rows, cellsAbort.signal);
    const areaPx = Math.max(1, (box.x1 - box.x0) * (box.y1 - box.y0) * zoom * zoom);
    const spacing = Math.sqrt(Math.min(areaPx, screen.width * screen.height) / Math.max(1, density.total));
    const mode: CellMode =
      density.total > 4000 || spacing < 5 ? 'density' : spacing < 14 ? 'dots' : 'markers';
    if (mode === 'density') {
      painter.set({ cells: undefined, cellDensity: density, cellMode: mode });
      cellsInfo.textContent = `${formatCount(density.total)} cells in view (density; zoom in for markers)`;
    } else {
      const res = await api.cells(run, slide.id, box, cellsAbort.signal);
      painter.set({ cells: res.cells, cellDensity: undefined, cellMode: mode });
      cellsInfo.textContent = res.truncated
        ? `${formatCount(res.total)} cells in view; showing ${formatCount(res.cells.length)}. Zoom in for all.`
        : `${formatCount(res.total)} cells in view`;
    }
    viewerEl.dataset.cellsMode = mode;
  }
  const scheduleCells = () => {
    window.clearTimeout(cellsTimer);
    cellsTimer = window.setTimeout(() => loadCells().catch(() => undefined), 120);
  };
  cellsToggle.addEventListener('change', scheduleCells);
  cellsSelect.addEventListener('change', scheduleCells);
  viewer.addHandler('animation-finish', scheduleCells);

  // ----- annotations: outlines, and drawing (annotate.ts) -----
  const annotator = createAnnotator({
    viewer,
    viewerEl,
    painter,
    slide,
    onChange: (list) => {
      // Drawings are shown as soon as there are any (the user just drew one, or opened a slide with some).
      if (list.some((a) => a.editable)) annToggle.checked = true;
      painter.set({ annotations: annToggle.checked ? list : undefined });
    },
  });
  annotateBox.append(annotator.element);
  annToggle.addEventListener('change', () => {
    painter.set({ annotations: annToggle.checked ? annotator.list() : undefined });
  });
  annotator.refresh().catch(() => undefined);

  // ----- attention gallery, with the saliency of the run's patch classifier beside each patch -----
  async function loadGallery(): Promise<void> {
    if (!gallerySelect.value) return;
    const runId = Number(gallerySelect.value);
    const run = runById.get(runId);
    oodNote(galleryOod, run);
    const top = await api.topAttention(runId, slide.id, 12);
    const withSaliency = run?.saliency === true;
    gallery.classList.toggle('with-saliency', withSaliency);
    const saliencyImg = (p: (typeof top)[number], i: number, map: 'gradient' | 'gradcam') =>
      h(
        'figure',
        {
          class: 'saliency-item',
          title: `${map === 'gradient' ? 'gradient saliency' : 'Grad-CAM'} of patch ${i + 1}`,
        },
        h('img', {
          src: api.saliencyUrl(runId, slide.id, p, map, 160),
          alt: `${map} ${i + 1}`,
          loading: 'lazy',
          'data-testid': `saliency-${map}`,
        }),
      );
    gallery.replaceChildren(
      ...(withSaliency
        ? ['patch', 'gradient', 'Grad-CAM'].map((c) => h('div', { class: 'gallery-head small muted' }, c))
        : []),
      ...top.flatMap((p, i) => [
        h(
          'button',
          {
            class: 'gallery-item',
            title: `attention ${p.attention.toFixed(3)}${p.score != null ? `, p=${p.score.toFixed(2)}` : ''}${isOod(run) ? ` (${OOD_MARK})` : ''} at (${p.x}, ${p.y})`,
            'data-testid': 'gallery-item',
            onclick: () => {
              const pad = Math.max(p.width, p.height);
              const rect = viewer.viewport.imageToViewportRectangle(
                p.x - pad,
                p.y - pad,
                p.width + 2 * pad,
                p.height + 2 * pad,
              );
              viewer.viewport.fitBounds(rect);
              painter.set({ highlight: p });
            },
          },
          h('img', { src: api.cropUrl(slide.id, p, 160), alt: `patch ${i + 1}`, loading: 'lazy' }),
          h('span', { class: 'gallery-rank' }, `#${i + 1} · ${p.attention.toFixed(2)}`),
        ),
        ...(withSaliency ? [saliencyImg(p, i, 'gradient'), saliencyImg(p, i, 'gradcam')] : []),
      ]),
    );
  }
  gallerySelect.addEventListener('change', () => loadGallery().catch(() => undefined));

  // ----- initial state from the URL (the plate view links here with ?cells=<run>) -----
  const wantCells = params.get('cells');
  if (wantCells && cellRuns.some((r) => String(r.runId) === wantCells)) {
    cellsSelect.value = wantCells;
    cellsToggle.checked = true;
  }
  const wantHeat = params.get('heatmap');
  if (wantHeat) {
    const [run, value] = wantHeat.split(':');
    const idx = choices.findIndex((c) => String(c.runId) === run && c.value === (value ?? 'score'));
    if (idx >= 0) {
      heatSelect.value = String(idx);
      heatToggle.checked = true;
      onHeatChange();
    }
  }
  viewer.addHandler('open', () => {
    viewerEl.dataset.open = 'true';
    if (cellsToggle.checked) scheduleCells();
  });
  viewer.addHandler('tile-loaded', () => {
    viewerEl.dataset.tiles = 'loaded';
  });
  loadGallery().catch(() => undefined);

  return () => {
    window.clearTimeout(cellsTimer);
    cellsAbort?.abort();
    statusBar.destroy();
    annotator.destroy();
    painter.destroy();
    viewer.destroy();
    window.wsiViewer = undefined;
  };
}
