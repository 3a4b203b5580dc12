/**
 * Drawing annotations on the slide page: polygon (click vertices; double-click, Enter or a click on the
 * first vertex closes it), rectangle (drag) and point (click) tools; a class (tumour, normal, exclude or a
 * user-defined name) and an author name kept in localStorage. Every drawing is saved at once through the
 * API; the list edits a drawing's class or deletes it. Esc cancels the drawing in progress.
 * Vertex editing: ✎ on a drawing shows a handle on each vertex; dragging one moves it (a rectangle's corner
 * keeps the rectangle axis-aligned against the opposite corner; a point moves whole) and the new outline is
 * saved when the handle is let go (PATCH: kind and class stay as stored). ✎ again or Esc ends editing.
 */
import OpenSeadragon from 'openseadragon';
import { type Annotation, api, type DrawnAnnotation } from './api.ts';
import { h } from './dom.ts';
import type { OverlayPainter } from './overlay.ts';
import { axisRectangle, type Coords, moveVertex } from './vertex-edit.ts';

type Tool = DrawnAnnotation['geometry'];
const AUTHOR_KEY = 'wsi-viewer-author';
const CLASSES = ['tumour', 'normal', 'exclude'];
/** Screen distance (CSS px) within which a click on the first vertex closes a polygon. */
const CLOSE_PX = 8;
/** Side of a vertex handle (CSS px). */
const HANDLE_PX = 12;
const HANDLE_STYLE = [
  'position: absolute',
  `width: ${HANDLE_PX}px`,
  `height: ${HANDLE_PX}px`,
  `margin: ${-HANDLE_PX / 2}px 0 0 ${-HANDLE_PX / 2}px`,
  'box-sizing: border-box',
  'border: 2px solid #ffffff',
  'border-radius: 2px',
  'background: #0a84ff',
  'pointer-events: auto',
  'cursor: move',
  'touch-action: none',
].join('; ');

export interface Annotator {
  element: HTMLElement;
  /** Annotations shown (all sources). */
  list(): Annotation[];
  refresh(): Promise<void>;
  destroy(): void;
}

function timeText(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ''
    : d.toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

export function createAnnotator(o: {
  viewer: OpenSeadragon.Viewer;
  viewerEl: HTMLElement;
  painter: OverlayPainter;
  slide: { id: string; width: number; height: number };
  /** Called when the list changes (e.g. to switch the outlines on). */
  onChange: (list: Annotation[]) => void;
}): Annotator {
  const { viewer, viewerEl, painter, slide } = o;
  let annotations: Annotation[] = [];
  let tool: Tool | undefined;
  let draft: [number, number][] = [];
  let dragStart: [number, number] | undefined;
  /** The drawing whose vertices have handles, and the vertex being dragged. */
  let editing: number | undefined;
  let moving: { index: number; coords: Coords; dragged?: boolean } | undefined;

  const author = h('input', {
    type: 'text',
    placeholder: 'your name',
    maxlength: 80,
    'data-testid': 'author',
    value: localStorage.getItem(AUTHOR_KEY) ?? '',
  });
  author.addEventListener('change', () => localStorage.setItem(AUTHOR_KEY, author.value.trim()));
  const classSelect = h(
    'select',
    { 'data-testid': 'draw-class' },
    ...CLASSES.map((c) => h('option', { value: c }, c)),
    h('option', { value: '' }, 'other…'),
  );
  const custom = h('input', {
    type: 'text',
    placeholder: 'class name',
    maxlength: 40,
    'data-testid': 'draw-custom',
    hidden: true,
  });
  classSelect.addEventListener('change', () => {
    custom.hidden = classSelect.value !== '';
  });
  const status = h('div', { class: 'muted small', 'data-testid': 'annotate-status' });
  const listEl = h('div', { class: 'ann-list', 'data-testid': 'annotation-list' });
  const toolButtons = new Map<Tool, HTMLButtonElement>();
  for (const [t, label] of [
    ['polygon', 'Polygon'],
    ['rectangle', 'Rectangle'],
    ['point', 'Point'],
  ] as const) {
    toolButtons.set(
      t,
      h(
        'button',
        {
          type: 'button',
          class: 'tool',
          'data-testid': `tool-${t}`,
          onclick: () => setTool(tool === t ? undefined : t),
        },
        label,
      ),
    );
  }
  const layer = h('div', { class: 'draw-layer', 'data-testid': 'draw-layer', hidden: true });
  viewerEl.appendChild(layer);
  // Handles sit above the slide; the layer itself lets every other pointer through to the viewer.
  const editLayer = h('div', {
    'data-testid': 'edit-layer',
    style: 'position: absolute; inset: 0; z-index: 6; pointer-events: none; overflow: hidden',
  });
  viewerEl.appendChild(editLayer);

  const element = h(
    'div',
    { class: 'annotator' },
    h('label', { class: 'row small' }, h('span', {}, 'Author'), author),
    h('label', { class: 'row small' }, h('span', {}, 'Class'), classSelect, custom),
    h('div', { class: 'tools' }, ...toolButtons.values()),
    status,
    listEl,
  );

  function label(): string {
    return (classSelect.value || custom.value).trim();
  }

  function setTool(t: Tool | undefined): void {
    if (t && !author.value.trim()) {
      status.textContent = 'Enter your name first (kept in this browser).';
      author.focus();
      return;
    }
    if (t && !label()) {
      status.textContent = 'Name the class first.';
      custom.focus();
      return;
    }
    if (t) stopEditing();
    tool = t;
    draft = [];
    dragStart = undefined;
    for (const [k, b] of toolButtons) b.classList.toggle('active', k === t);
    layer.hidden = !t;
    viewer.setMouseNavEnabled(!t);
    viewerEl.dataset.tool = t ?? '';
    status.textContent = t
      ? {
          polygon: 'Click the vertices; double-click or click the first vertex to close. Esc cancels.',
          rectangle: 'Drag a rectangle. Esc cancels.',
          point: 'Click to place a point. Esc cancels.',
        }[t]
      : '';
    painter.set({ draft: undefined });
  }

  function editedAnnotation(): Annotation | undefined {
    return annotations.find((a) => a.id === editing && a.editable);
  }

  function stopEditing(): void {
    if (editing === undefined) return;
    editing = undefined;
    moving = undefined;
    viewer.setMouseNavEnabled(true);
    delete viewerEl.dataset.editing;
    placeHandles();
    for (const b of listEl.querySelectorAll('[data-testid=annotation-edit]')) b.classList.remove('active');
  }

  function startEditing(id: number): void {
    if (tool) setTool(undefined);
    stopEditing();
    editing = id;
    viewerEl.dataset.editing = String(id);
    for (const b of listEl.querySelectorAll<HTMLElement>('[data-testid=annotation-edit]'))
      b.classList.toggle('active', b.dataset.id === String(id));
    status.textContent = 'Drag a vertex to move it; it is saved when you let go. Esc or ✎ ends editing.';
    placeHandles();
  }

  /** Level-0 pixel → CSS pixel in the viewer element, as the overlay painter draws it. */
  function screenOf(x: number, y: number): { x: number; y: number } {
    return viewer.viewport.pixelFromPoint(viewer.viewport.imageToViewportCoordinates(x, y), true);
  }

  function placeHandles(): void {
    const a = editedAnnotation();
    const coords = moving?.coords ?? a?.coords ?? [];
    while (editLayer.children.length > coords.length) editLayer.lastElementChild?.remove();
    while (editLayer.children.length < coords.length)
      editLayer.append(vertexHandle(editLayer.children.length));
    coords.forEach(([x, y], i) => {
      const el = editLayer.children[i] as HTMLElement;
      const q = screenOf(x, y);
      el.style.left = `${q.x}px`;
      el.style.top = `${q.y}px`;
      el.dataset.x = String(x);
      el.dataset.y = String(y);
    });
  }

  /** Shows the outline being dragged in place of the stored one. */
  function showMoving(): void {
    if (!moving) return;
    const coords = moving.coords;
    o.onChange(annotations.map((a) => (a.id === editing ? { ...a, coords } : a)));
    placeHandles();
  }

  function vertexHandle(index: number): HTMLElement {
    const el = h('div', { 'data-testid': 'vertex-handle', 'data-index': index, style: HANDLE_STYLE });
    el.addEventListener('pointerdown', (ev) => {
      const a = editedAnnotation();
      if (ev.button !== 0 || !a) return;
      ev.preventDefault();
      ev.stopPropagation();
      viewer.setMouseNavEnabled(false);
      el.setPointerCapture(ev.pointerId);
      moving = { index, coords: a.coords.map(([x, y]) => [x, y]) };
    });
    el.addEventListener('pointermove', (ev) => {
      const a = editedAnnotation();
      if (!moving || !a) return;
      ev.stopPropagation();
      moving = { ...moveVertex(a.geometry, moving.coords, moving.index, imagePoint(ev)), dragged: true };
      showMoving();
    });
    const drop = (ev: PointerEvent) => {
      const a = editedAnnotation();
      if (!moving || !a) return;
      ev.stopPropagation();
      const moved = moveVertex(a.geometry, moving.coords, moving.index, imagePoint(ev));
      const dragged = moving.dragged;
      moving = undefined;
      viewer.setMouseNavEnabled(true);
      // A click on a handle without a drag changes nothing.
      if (dragged) void saveMove(a, moved.coords);
      else placeHandles();
    };
    el.addEventListener('pointerup', drop);
    el.addEventListener('pointercancel', () => {
      moving = undefined;
      viewer.setMouseNavEnabled(true);
      o.onChange(annotations);
      placeHandles();
    });
    return el;
  }

  async function saveMove(a: Annotation, coords: Coords): Promise<void> {
    try {
      await api.moveAnnotation(slide.id, a.id, {
        coords,
        author: author.value.trim() || (a.author ?? 'unknown'),
      });
      status.textContent = `Moved a vertex of the ${a.geometry}.`;
    } catch (err) {
      status.textContent = `Not moved: ${(err as Error).message}`;
    }
    // The stored outline either way (a refused move snaps back).
    await refresh();
  }

  function imagePoint(ev: MouseEvent): [number, number] {
    const box = viewerEl.getBoundingClientRect();
    const p = viewer.viewport.viewerElementToImageCoordinates(
      new OpenSeadragon.Point(ev.clientX - box.left, ev.clientY - box.top),
    );
    const clamp = (v: number, hi: number) => Math.round(Math.min(hi, Math.max(0, v)) * 100) / 100;
    return [clamp(p.x, slide.width), clamp(p.y, slide.height)];
  }

  function screenDistance(a: [number, number], ev: MouseEvent): number {
    const box = viewerEl.getBoundingClientRect();
    const q = viewer.viewport.imageToViewerElementCoordinates(new OpenSeadragon.Point(a[0], a[1]));
    return Math.hypot(q.x - (ev.clientX - box.left), q.y - (ev.clientY - box.top));
  }

  async function save(geometry: Tool, coords: [number, number][]): Promise<void> {
    setTool(undefined);
    try {
      await api.createAnnotation(slide.id, { geometry, label: label(), author: author.value.trim(), coords });
      await refresh();
      status.textContent = `Saved ${geometry} (${label()}).`;
    } catch (err) {
      status.textContent = `Not saved: ${(err as Error).message}`;
    }
  }

  const rectangle = axisRectangle;

  layer.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || !tool) return;
    ev.preventDefault();
    const p = imagePoint(ev);
    if (tool === 'point') return void save('point', [p]);
    if (tool === 'rectangle') {
      dragStart = p;
      layer.setPointerCapture(ev.pointerId);
      return;
    }
    if (draft.length >= 3 && screenDistance(draft[0], ev) <= CLOSE_PX) return void save('polygon', draft);
    draft = [...draft, p];
    painter.set({ draft: { geometry: 'polygon', coords: draft } });
  });
  layer.addEventListener('pointermove', (ev) => {
    if (tool === 'rectangle' && dragStart)
      painter.set({ draft: { geometry: 'rectangle', coords: rectangle(dragStart, imagePoint(ev)) } });
    else if (tool === 'polygon' && draft.length)
      painter.set({ draft: { geometry: 'polygon', coords: [...draft, imagePoint(ev)], open: true } });
  });
  layer.addEventListener('pointerup', (ev) => {
    if (tool !== 'rectangle' || !dragStart) return;
    const r = rectangle(dragStart, imagePoint(ev));
    dragStart = undefined;
    if (r[1][0] > r[0][0] && r[2][1] > r[1][1]) void save('rectangle', r);
  });
  layer.addEventListener('dblclick', (ev) => {
    ev.preventDefault();
    // The double-click's two pointerdowns added the last vertex twice.
    const pts = draft.filter((p, i) => i === 0 || p[0] !== draft[i - 1][0] || p[1] !== draft[i - 1][1]);
    if (tool === 'polygon' && pts.length >= 3) void save('polygon', pts);
  });
  const onKey = (ev: KeyboardEvent) => {
    if (!tool && editing !== undefined && ev.key === 'Escape') {
      stopEditing();
      status.textContent = '';
    }
    if (!tool) return;
    if (ev.key === 'Escape') setTool(undefined);
    if (ev.key === 'Enter' && tool === 'polygon' && draft.length >= 3) void save('polygon', draft);
  };
  window.addEventListener('keydown', onKey);

  function item(a: Annotation): HTMLElement {
    const what = a.label ?? a.group ?? a.class;
    const meta = a.editable ? `${a.author ?? ''} · ${timeText(a.updatedAt ?? a.createdAt)}` : a.source;
    const select = h(
      'select',
      { 'data-testid': 'annotation-class', 'aria-label': 'class' },
      ...[...new Set([...CLASSES, what])].map((c) => h('option', { value: c, selected: c === what }, c)),
    );
    select.addEventListener('change', async () => {
      try {
        await api.updateAnnotation(slide.id, a.id, {
          geometry: a.geometry as Tool,
          label: select.value,
          author: author.value.trim() || (a.author ?? 'unknown'),
          coords: a.coords,
        });
        await refresh();
        status.textContent = `Changed to ${select.value}.`;
      } catch (err) {
        status.textContent = `Not changed: ${(err as Error).message}`;
      }
    });
    const del = h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        title: 'delete',
        'data-testid': 'annotation-delete',
        onclick: async () => {
          try {
            await api.deleteAnnotation(slide.id, a.id);
            await refresh();
            status.textContent = 'Deleted.';
          } catch (err) {
            status.textContent = `Not deleted: ${(err as Error).message}`;
          }
        },
      },
      '✕',
    );
    const edit = h(
      'button',
      {
        type: 'button',
        class: `icon-button${editing === a.id ? ' active' : ''}`,
        title: 'move vertices',
        'data-testid': 'annotation-edit',
        'data-id': a.id,
        onclick: () => {
          if (editing === a.id) {
            stopEditing();
            status.textContent = '';
          } else startEditing(a.id);
        },
      },
      '✎',
    );
    return h(
      'div',
      {
        class: 'ann-item',
        'data-testid': 'annotation-item',
        'data-id': a.id,
        'data-geometry': a.geometry,
        'data-label': what,
      },
      h('span', { class: 'ann-kind' }, a.geometry),
      a.editable ? select : h('span', {}, what),
      h('span', { class: 'muted small ann-meta' }, meta),
      a.editable ? h('span', { class: 'ann-actions' }, edit, del) : null,
    );
  }

  async function refresh(): Promise<void> {
    annotations = await api.annotations(slide.id);
    listEl.replaceChildren(...annotations.map(item));
    viewerEl.dataset.annotations = String(annotations.length);
    if (editing !== undefined && !editedAnnotation()) stopEditing();
    placeHandles();
    o.onChange(annotations);
  }

  viewer.addHandler('update-viewport', placeHandles);

  return {
    element,
    list: () => annotations,
    refresh,
    destroy() {
      window.removeEventListener('keydown', onKey);
      viewer.removeHandler('update-viewport', placeHandles);
      layer.remove();
      editLayer.remove();
    },
  };
}
