/** Typed access to the server's JSON API. */
export interface SlideInfo {
  id: string;
  name: string;
  width: number;
  height: number;
  mpp: number | null;
  mppX: number | null;
  mppY: number | null;
  objectivePower: number | null;
  format: string;
  vendor: string | null;
  levels: { width: number; height: number; downsample: number }[];
  dzi: string;
  /** Set when the slide is a well image of a counting run (listed apart from whole slides). */
  plateImage?: { runId: number; plate: string | null; well: string | null } | null;
  /** Runs whose out-of-distribution verdict fired on this slide, newest first. */
  ood?: OodFlag[];
}

export interface OodFlag {
  runId: number;
  kind: string;
  name: string | null;
  reason: string;
}

export interface SlideRun {
  runId: number;
  kind: string;
  name: string | null;
  status: string;
  scored: number;
  attended: number;
  cells: number;
  slideScore: number | null;
  /** The run's out-of-distribution verdict on this slide (null: its model has no reference). */
  ood: { outOfDistribution: boolean; reason: string } | null;
  /** The run has a patch classifier whose saliency the gallery can show. */
  saliency: boolean;
}

export interface SlideDetail extends SlideInfo {
  runs: SlideRun[];
  annotations: number;
}

export type PatchValue = 'score' | 'attention';

export interface HeatmapInfo {
  value: PatchValue;
  x: number;
  y: number;
  width: number;
  height: number;
  columns: number;
  rows: number;
  strideX: number;
  strideY: number;
  patches: number;
  min: number;
  max: number;
  lo: number;
  hi: number;
  stops: string[];
}

export interface CellsResponse {
  total: number;
  truncated: boolean;
  cells: { x: number; y: number; score: number | null }[];
}

export interface CellDensityResponse {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cols: number;
  rows: number;
  binWidth: number;
  binHeight: number;
  total: number;
  max: number;
  counts: number[];
}

export interface Annotation {
  id: number;
  name: string;
  group: string | null;
  class: string;
  /** Label of a drawing (tumour, normal, exclude or user-defined); null for imported annotations. */
  label: string | null;
  geometry: string;
  coords: [number, number][];
  source: string;
  author: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  editable: boolean;
}

export interface DrawnAnnotation {
  geometry: 'polygon' | 'rectangle' | 'point';
  label: string;
  author: string;
  coords: [number, number][];
}

async function sendJson<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = (await res.json().catch(() => ({}))) as { error?: string };
    throw new Error(err.error ?? `${res.status} ${res.statusText}`);
  }
  return (await res.json()) as T;
}

export interface AttentionPatch {
  x: number;
  y: number;
  width: number;
  height: number;
  attention: number;
  score: number | null;
}

export interface PlateRun {
  runId: number;
  name: string | null;
  status: string;
  plates: string[];
}

export interface Well {
  plate: string;
  well: string;
  row: number;
  col: number;
  fields: number;
  count: number;
  meanArea: number | null;
  images: { slideId: string; field: number | null; count: number }[];
}

export interface PlateResponse {
  runId: number;
  plate: string;
  rows: number;
  cols: number;
  min: number;
  max: number;
  stops: string[];
  wells: Well[];
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { signal });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  }
  return (await res.json()) as T;
}

export const api = {
  slides: () => getJson<SlideInfo[]>('/api/slides'),
  slide: (id: string) => getJson<SlideDetail>(`/api/slides/${encodeURIComponent(id)}`),
  heatmap: (run: number, id: string, value: PatchValue, stretch: boolean) =>
    getJson<HeatmapInfo>(
      `/api/runs/${run}/slides/${encodeURIComponent(id)}/heatmap.json?value=${value}&range=${stretch ? 'data' : 'fixed'}`,
    ),
  heatmapPngUrl: (run: number, id: string, value: PatchValue, stretch: boolean) =>
    `/api/runs/${run}/slides/${encodeURIComponent(id)}/heatmap.png?value=${value}&range=${stretch ? 'data' : 'fixed'}`,
  cells: (
    run: number,
    id: string,
    box: { x0: number; y0: number; x1: number; y1: number },
    signal?: AbortSignal,
  ) =>
    getJson<CellsResponse>(
      `/api/runs/${run}/slides/${encodeURIComponent(id)}/cells?x0=${Math.floor(box.x0)}&y0=${Math.floor(box.y0)}&x1=${Math.ceil(box.x1)}&y1=${Math.ceil(box.y1)}&limit=4000`,
      signal,
    ),
  cellDensity: (
    run: number,
    id: string,
    box: { x0: number; y0: number; x1: number; y1: number },
    cols: number,
    rows: number,
    signal?: AbortSignal,
  ) =>
    getJson<CellDensityResponse>(
      `/api/runs/${run}/slides/${encodeURIComponent(id)}/cell-density?x0=${Math.floor(box.x0)}&y0=${Math.floor(box.y0)}&x1=${Math.ceil(box.x1)}&y1=${Math.ceil(box.y1)}&cols=${cols}&rows=${rows}`,
      signal,
    ),
  annotations: (id: string) => getJson<Annotation[]>(`/api/slides/${encodeURIComponent(id)}/annotations`),
  createAnnotation: (id: string, a: DrawnAnnotation) =>
    sendJson<Annotation>('POST', `/api/slides/${encodeURIComponent(id)}/annotations`, a),
  updateAnnotation: (id: string, annotationId: number, a: DrawnAnnotation) =>
    sendJson<Annotation>('PUT', `/api/slides/${encodeURIComponent(id)}/annotations/${annotationId}`, a),
  /** Moves a drawing's vertices (its kind and class stay as stored). */
  moveAnnotation: (id: string, annotationId: number, a: { coords: [number, number][]; author: string }) =>
    sendJson<Annotation>('PATCH', `/api/slides/${encodeURIComponent(id)}/annotations/${annotationId}`, a),
  deleteAnnotation: (id: string, annotationId: number) =>
    sendJson<{ deleted: number }>(
      'DELETE',
      `/api/slides/${encodeURIComponent(id)}/annotations/${annotationId}`,
    ),
  topAttention: (run: number, id: string, k: number) =>
    getJson<AttentionPatch[]>(`/api/runs/${run}/slides/${encodeURIComponent(id)}/top-attention?k=${k}`),
  cropUrl: (id: string, p: { x: number; y: number; width: number; height: number }, size: number) =>
    `/api/slides/${encodeURIComponent(id)}/region.jpeg?x=${p.x}&y=${p.y}&w=${p.width}&h=${p.height}&size=${size}`,
  saliencyUrl: (
    run: number,
    id: string,
    p: { x: number; y: number },
    map: 'gradient' | 'gradcam',
    size: number,
  ) => `/api/runs/${run}/slides/${encodeURIComponent(id)}/saliency-${map}.png?x=${p.x}&y=${p.y}&size=${size}`,
  thumbnailUrl: (id: string) => `/api/slides/${encodeURIComponent(id)}/thumbnail.jpeg`,
  plates: () => getJson<PlateRun[]>('/api/plates'),
  wells: (run: number, plate: string) =>
    getJson<PlateResponse>(`/api/runs/${run}/wells?plate=${encodeURIComponent(plate)}`),
};
