/**
 * One canvas over the OpenSeadragon viewer that draws the overlays in slide coordinates: the
 * heatmap (nearest-neighbour, so each patch stays a crisp square at every zoom), annotation
 * outlines, cell markers and a highlighted patch. Redrawn on every viewport change.
 */
import type OpenSeadragon from 'openseadragon';
import type { Annotation, CellDensityResponse, CellsResponse, HeatmapInfo } from './api.ts';

/** How cells are drawn: a density layer when too many to tell apart, small dots, or ring markers. */
export type CellMode = 'density' | 'dots' | 'markers';

export interface OverlayState {
  heatmap?: { info: HeatmapInfo; image: HTMLImageElement; opacity: number };
  annotations?: Annotation[];
  cells?: CellsResponse['cells'];
  cellMode?: CellMode;
  cellDensity?: CellDensityResponse;
  highlight?: { x: number; y: number; width: number; height: number };
  /** A drawing in progress (open: the polygon's last edge follows the cursor). */
  draft?: { geometry: string; coords: [number, number][]; open?: boolean };
}

export const ANNOTATION_COLOURS: Record<string, string> = {
  tumour: '#ff453a',
  exclusion: '#ffd60a',
  other: '#30d158',
};

/** Colours of drawn labels; user-defined labels are light blue. */
const LABEL_COLOURS: Record<string, string> = {
  tumour: ANNOTATION_COLOURS.tumour,
  normal: '#30d158',
  exclude: ANNOTATION_COLOURS.exclusion,
};

export function annotationColour(a: { class: string; label?: string | null }): string {
  if (a.label) return LABEL_COLOURS[a.label.toLowerCase()] ?? '#64d2ff';
  return ANNOTATION_COLOURS[a.class] ?? ANNOTATION_COLOURS.other;
}

export class OverlayPainter {
  readonly canvas: HTMLCanvasElement;
  state: OverlayState = {};
  private readonly viewer: OpenSeadragon.Viewer;
  private frame = 0;
  private readonly resizeObserver: ResizeObserver;
  private destroyed = false;

  constructor(viewer: OpenSeadragon.Viewer) {
    this.viewer = viewer;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'overlay-canvas';
    viewer.canvas.appendChild(this.canvas);
    const redraw = () => this.schedule();
    viewer.addHandler('update-viewport', redraw);
    viewer.addHandler('resize', redraw);
    this.resizeObserver = new ResizeObserver(redraw);
    this.resizeObserver.observe(viewer.container);
  }

  /** Stops drawing; call before the viewer is destroyed. */
  destroy(): void {
    this.destroyed = true;
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  set(patch: Partial<OverlayState>): void {
    this.state = { ...this.state, ...patch };
    this.schedule();
  }

  schedule(): void {
    if (this.frame || this.destroyed) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private item(): OpenSeadragon.TiledImage | undefined {
    return this.viewer.world.getItemCount() > 0 ? this.viewer.world.getItemAt(0) : undefined;
  }

  /** Level-0 pixel → CSS pixel inside the viewer element. */
  private toScreen(x: number, y: number): { x: number; y: number } {
    // Current (animated) positions on both steps: TiledImage.imageToViewerElementCoordinates mixes
    // the target image→viewport transform with the current viewport, which drifts while zooming.
    // (Viewport.imageToViewportCoordinates uses the current transform of the single image.)
    const p = this.viewer.viewport.pixelFromPoint(
      this.viewer.viewport.imageToViewportCoordinates(x, y),
      true,
    );
    return { x: p.x, y: p.y };
  }

  draw(): void {
    const el = this.viewer.container;
    const dpr = window.devicePixelRatio || 1;
    const w = el.clientWidth;
    const hgt = el.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(hgt * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(hgt * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${hgt}px`;
    }
    const ctx = this.canvas.getContext('2d');
    const item = this.item();
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    if (!item) return;
    const { heatmap, annotations, cells, highlight, draft, cellDensity } = this.state;
    if (heatmap?.image.complete && heatmap.image.naturalWidth > 0) this.drawHeatmap(ctx, heatmap, w, hgt);
    if (annotations) this.drawAnnotations(ctx, annotations);
    if (cellDensity) this.drawDensity(ctx, cellDensity);
    if (cells && this.state.cellMode === 'dots') this.drawDots(ctx, cells);
    else if (cells) this.drawCells(ctx, item, cells);
    if (draft) this.drawDraft(ctx, draft);
    if (highlight) {
      const a = this.toScreen(highlight.x, highlight.y);
      const b = this.toScreen(highlight.x + highlight.width, highlight.y + highlight.height);
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#ffffff';
      ctx.setLineDash([6, 4]);
      ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
      ctx.setLineDash([]);
    }
  }

  private drawHeatmap(
    ctx: CanvasRenderingContext2D,
    hm: NonNullable<OverlayState['heatmap']>,
    viewW: number,
    viewH: number,
  ): void {
    const { info, image } = hm;
    const a = this.toScreen(info.x, info.y);
    const b = this.toScreen(info.x + info.width, info.y + info.height);
    const dw = b.x - a.x;
    const dh = b.y - a.y;
    if (dw <= 0 || dh <= 0) return;
    // Clip to the visible part before drawing: at high zoom the full destination rectangle would be
    // millions of pixels wide. Source coordinates stay fractional, so alignment is exact.
    const vx0 = Math.max(0, a.x);
    const vy0 = Math.max(0, a.y);
    const vx1 = Math.min(viewW, b.x);
    const vy1 = Math.min(viewH, b.y);
    if (vx1 <= vx0 || vy1 <= vy0) return;
    const sx = ((vx0 - a.x) / dw) * image.naturalWidth;
    const sy = ((vy0 - a.y) / dh) * image.naturalHeight;
    const sw = ((vx1 - vx0) / dw) * image.naturalWidth;
    const sh = ((vy1 - vy0) / dh) * image.naturalHeight;
    ctx.save();
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = hm.opacity;
    ctx.drawImage(image, sx, sy, sw, sh, vx0, vy0, vx1 - vx0, vy1 - vy0);
    ctx.restore();
  }

  private drawDraft(ctx: CanvasRenderingContext2D, d: NonNullable<OverlayState['draft']>): void {
    ctx.save();
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#ffffff';
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    d.coords.forEach(([x, y], i) => {
      const p = this.toScreen(x, y);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    });
    if (!d.open) ctx.closePath();
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#ffffff';
    for (const [x, y] of d.coords) {
      const p = this.toScreen(x, y);
      ctx.fillRect(p.x - 2.5, p.y - 2.5, 5, 5);
    }
    ctx.restore();
  }

  private drawAnnotations(ctx: CanvasRenderingContext2D, list: Annotation[]): void {
    ctx.save();
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    for (const ann of list) {
      if (ann.coords.length === 0) continue;
      ctx.strokeStyle = annotationColour(ann);
      if (ann.geometry === 'point') {
        // Points: a filled dot with a dark rim, the same size at every zoom.
        ctx.fillStyle = ctx.strokeStyle;
        for (const [x, y] of ann.coords) {
          const p = this.toScreen(x, y);
          ctx.beginPath();
          ctx.arc(p.x, p.y, 5, 0, Math.PI * 2);
          ctx.fill();
          ctx.lineWidth = 1.5;
          ctx.strokeStyle = 'rgba(0, 0, 0, 0.7)';
          ctx.stroke();
          ctx.strokeStyle = annotationColour(ann);
          ctx.lineWidth = 2;
        }
        continue;
      }
      ctx.beginPath();
      ann.coords.forEach(([x, y], i) => {
        const p = this.toScreen(x, y);
        if (i === 0) ctx.moveTo(p.x, p.y);
        else ctx.lineTo(p.x, p.y);
      });
      ctx.closePath();
      ctx.stroke();
    }
    ctx.restore();
  }

  /** Bins shaded by count (cyan, alpha up to 0.55), so tissue stays visible under the layer. */
  private drawDensity(ctx: CanvasRenderingContext2D, d: CellDensityResponse): void {
    if (d.max <= 0) return;
    ctx.save();
    for (let j = 0; j < d.rows; j++) {
      for (let i = 0; i < d.cols; i++) {
        const n = d.counts[j * d.cols + i];
        if (!n) continue;
        const a = this.toScreen(d.x0 + i * d.binWidth, d.y0 + j * d.binHeight);
        const b = this.toScreen(d.x0 + (i + 1) * d.binWidth, d.y0 + (j + 1) * d.binHeight);
        ctx.fillStyle = `rgba(0, 229, 255, ${(0.12 + 0.43 * (n / d.max)).toFixed(3)})`;
        ctx.fillRect(a.x, a.y, b.x - a.x, b.y - a.y);
      }
    }
    ctx.restore();
  }

  /** One small dot per cell (mid zoom: cells can be counted by eye but rings would cover them). */
  private drawDots(ctx: CanvasRenderingContext2D, cells: CellsResponse['cells']): void {
    ctx.save();
    ctx.fillStyle = '#00e5ff';
    for (const c of cells) {
      const p = this.toScreen(c.x, c.y);
      ctx.fillRect(p.x - 1, p.y - 1, 2, 2);
    }
    ctx.restore();
  }

  private drawCells(
    ctx: CanvasRenderingContext2D,
    item: OpenSeadragon.TiledImage,
    cells: CellsResponse['cells'],
  ): void {
    // Rings leave the nucleus visible; a small centre dot marks the detected position exactly.
    // Radius follows the zoom (about 6 level-0 px), clamped to stay visible and not cover neighbours.
    const zoom = item.viewportToImageZoom(this.viewer.viewport.getZoom(true));
    const r = Math.max(3, Math.min(14, 6 * zoom));
    const points = cells.map((c) => this.toScreen(c.x, c.y));
    ctx.save();
    const ring = (width: number, colour: string) => {
      ctx.lineWidth = width;
      ctx.strokeStyle = colour;
      ctx.beginPath();
      for (const p of points) {
        ctx.moveTo(p.x + r, p.y);
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
      }
      ctx.stroke();
    };
    ring(3.5, 'rgba(0, 0, 0, 0.6)');
    ring(1.8, '#00e5ff');
    ctx.fillStyle = '#00e5ff';
    ctx.beginPath();
    const dot = Math.min(2, r / 2);
    for (const p of points) {
      ctx.moveTo(p.x + dot, p.y);
      ctx.arc(p.x, p.y, dot, 0, Math.PI * 2);
    }
    ctx.fill();
    ctx.restore();
  }
}
