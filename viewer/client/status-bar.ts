/**
 * The viewer's status bar: scale bar in µm from the slide's MPP (hidden with a note when unknown),
 * current magnification, objective-style zoom presets, and the cursor position in µm.
 */
import OpenSeadragon from 'openseadragon';
import { h } from './dom.ts';
import { formatMagnification, formatMicrons, magnification, niceScaleBar } from './scale.ts';

export interface StatusBar {
  readonly element: HTMLElement;
  attach(viewer: OpenSeadragon.Viewer): void;
  destroy(): void;
}

const PRESETS = [1.25, 2, 5, 10, 20, 40];

export function createStatusBar(slide: { mpp: number | null; objectivePower: number | null }): StatusBar {
  const { mpp } = slide;
  const scaleBar = h('div', { class: 'scale-bar', 'data-testid': 'scale-bar' });
  const scaleLabel = h('div', { class: 'scale-label', 'data-testid': 'scale-label' });
  const scaleNote = h('div', { class: 'scale-note', 'data-testid': 'scale-note' });
  const magEl = h('span', { class: 'mag', 'data-testid': 'magnification' });
  const cursorEl = h('span', { class: 'cursor-pos', 'data-testid': 'cursor' }, '–');
  // Objective-style zoom presets, as on a microscope's nosepiece (only when the scale is known).
  const baseMag = slide.objectivePower ?? (mpp ? 10 / mpp : null);
  let viewer: OpenSeadragon.Viewer | undefined;
  let tracker: OpenSeadragon.MouseTracker | undefined;

  const presets = h(
    'div',
    { class: 'presets' },
    ...(baseMag ? PRESETS.filter((m) => m <= baseMag * 2) : []).map((m) =>
      h(
        'button',
        {
          class: 'preset',
          'data-testid': `preset-${m}`,
          title: `Zoom to ${m}×`,
          onclick: () => {
            if (viewer && baseMag) viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(m / baseMag));
          },
        },
        `${m}×`,
      ),
    ),
  );
  const element = h(
    'div',
    { class: 'status' },
    h('div', { class: 'scale' }, scaleBar, scaleLabel, scaleNote),
    h('div', { class: 'readout-group' }, presets, h('div', { class: 'readout' }, magEl, cursorEl)),
  );

  /** Screen pixels per level-0 pixel. */
  function levelZeroZoom(v: OpenSeadragon.Viewer): number {
    const item = v.world.getItemAt(0);
    return item ? item.viewportToImageZoom(v.viewport.getZoom(true)) : 0;
  }

  function update(v: OpenSeadragon.Viewer): void {
    const zoom = levelZeroZoom(v);
    if (!zoom) return;
    const mag = magnification(zoom, slide.objectivePower, mpp);
    magEl.textContent =
      mag === undefined ? `${(zoom * 100).toFixed(zoom < 0.1 ? 1 : 0)}%` : formatMagnification(mag);
    if (mpp) {
      const bar = niceScaleBar(mpp / zoom, 160);
      scaleBar.style.width = `${bar.px.toFixed(1)}px`;
      scaleBar.hidden = false;
      scaleLabel.textContent = bar.label;
      scaleNote.textContent = '';
    } else {
      scaleBar.hidden = true;
      scaleLabel.textContent = '';
      scaleNote.textContent = 'No scale: this slide does not record its µm per pixel';
    }
  }

  return {
    element,
    attach(v) {
      viewer = v;
      v.addHandler('update-viewport', () => update(v));
      v.addHandler('open', () => update(v));
      tracker = new OpenSeadragon.MouseTracker({
        element: v.container,
        moveHandler: (ev) => {
          const item = v.world.getItemAt(0);
          const pos = (ev as unknown as { position?: OpenSeadragon.Point }).position;
          if (!item || !pos) return;
          const p = item.viewerElementToImageCoordinates(pos);
          cursorEl.textContent = mpp
            ? `x ${formatMicrons(p.x * mpp)}, y ${formatMicrons(p.y * mpp)}`
            : `x ${Math.round(p.x)} px, y ${Math.round(p.y)} px`;
        },
        leaveHandler: () => {
          cursorEl.textContent = '–';
        },
      });
    },
    destroy() {
      tracker?.destroy();
      viewer = undefined;
    },
  };
}
