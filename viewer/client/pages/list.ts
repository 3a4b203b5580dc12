/** The start page: registered slides as cards with thumbnails and metadata, and counting plates. */
import { api, type SlideInfo } from '../api.ts';
import { h } from '../dom.ts';

function wellCard(s: SlideInfo): HTMLElement {
  const where = s.plateImage ? `${s.plateImage.plate ?? ''} ${s.plateImage.well ?? ''}`.trim() : '';
  const cells = s.plateImage ? `?cells=${s.plateImage.runId}` : '';
  return h(
    'a',
    {
      class: 'card small-card',
      href: `#/slide/${encodeURIComponent(s.id)}${cells}`,
      'data-testid': 'image-card',
      'data-name': s.name,
    },
    h('div', { class: 'thumb dark' }, h('img', { src: api.thumbnailUrl(s.id), alt: '', loading: 'lazy' })),
    h(
      'div',
      { class: 'card-body' },
      h('div', { class: 'card-title', title: s.name }, where || s.name),
      h('div', { class: 'card-meta' }, s.name),
    ),
  );
}

/** A warning on slides some run found out of distribution: its scores there may be confidently wrong. */
function oodBadge(s: SlideInfo): HTMLElement | null {
  const flags = s.ood ?? [];
  if (!flags.length) return null;
  const runs = flags.map((f) => `${f.name ?? f.kind} #${f.runId}`).join(', ');
  return h(
    'div',
    {
      class: 'ood-badge',
      'data-testid': 'ood-badge',
      title: flags.map((f) => `${f.name ?? f.kind} #${f.runId}: ${f.reason}`).join('\n'),
    },
    `⚠ Out of distribution for ${runs}`,
  );
}

function slideCard(s: SlideInfo): HTMLElement {
  const mpp = s.mpp != null ? `${s.mpp.toFixed(3)} µm/px` : 'MPP unknown';
  return h(
    'a',
    {
      class: 'card',
      href: `#/slide/${encodeURIComponent(s.id)}`,
      'data-testid': 'slide-card',
      'data-name': s.name,
    },
    h('div', { class: 'thumb' }, h('img', { src: api.thumbnailUrl(s.id), alt: '', loading: 'lazy' })),
    h(
      'div',
      { class: 'card-body' },
      h('div', { class: 'card-title', title: s.name }, s.name),
      oodBadge(s),
      h(
        'div',
        { class: 'card-meta' },
        h('span', {}, `${s.width.toLocaleString('en')} × ${s.height.toLocaleString('en')} px`),
        h('span', { class: s.mpp == null ? 'warn-text' : '' }, mpp),
        s.objectivePower ? h('span', {}, `${s.objectivePower}×`) : null,
        h('span', {}, `${s.levels.length} level${s.levels.length > 1 ? 's' : ''}`),
        s.vendor ? h('span', {}, s.vendor) : null,
      ),
    ),
  );
}

export async function listPage(root: HTMLElement): Promise<() => void> {
  const [all, plates] = await Promise.all([api.slides(), api.plates()]);
  const slides = all.filter((s) => !s.plateImage);
  // Plate fields are reached through their plate (one link per plate, with its field count); only images
  // counted outside a plate are listed one by one.
  const fieldsOf = new Map<string, number>();
  for (const s of all) {
    const p = s.plateImage;
    if (p?.plate) fieldsOf.set(`${p.runId}/${p.plate}`, (fieldsOf.get(`${p.runId}/${p.plate}`) ?? 0) + 1);
  }
  const wellImages = all.filter((s) => s.plateImage && !s.plateImage.plate);
  const plateLinks = plates.flatMap((run) =>
    run.plates.map((plate) =>
      h(
        'a',
        {
          class: 'plate-link',
          href: `#/plate/${run.runId}/${encodeURIComponent(plate)}`,
          'data-testid': 'plate-link',
        },
        h('span', { class: 'plate-icon' }),
        h(
          'span',
          {},
          h('strong', {}, plate),
          h('br'),
          h(
            'span',
            { class: 'muted small' },
            `${fieldsOf.get(`${run.runId}/${plate}`) ?? 0} fields · ${run.name ?? 'counting run'} #${run.runId} · ${run.status}`,
          ),
        ),
      ),
    ),
  );
  root.append(
    h(
      'div',
      { class: 'list-page' },
      h(
        'header',
        { class: 'topbar' },
        h('h1', {}, 'Slides'),
        h('span', { class: 'muted' }, `${slides.length} slide${slides.length === 1 ? '' : 's'}`),
      ),
      h(
        'main',
        { class: 'list-main' },
        slides.length
          ? h('div', { class: 'cards' }, ...slides.map(slideCard))
          : h('p', { class: 'empty' }, 'No slides registered. Start the server with --slides DIR.'),
        plateLinks.length ? h('h2', { class: 'section-title' }, 'Plates') : null,
        plateLinks.length ? h('div', { class: 'plates' }, ...plateLinks) : null,
        wellImages.length ? h('h2', { class: 'section-title' }, `Images (${wellImages.length})`) : null,
        wellImages.length ? h('div', { class: 'cards small-cards' }, ...wellImages.map(wellCard)) : null,
      ),
    ),
  );
  return () => undefined;
}
