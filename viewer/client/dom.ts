/** A tiny element builder: h('div', { class: 'x' }, child, 'text'). Text is always set as text, never as HTML. */
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

/** A horizontal gradient legend for a colour map given as CSS colour stops. */
export function gradientLegend(
  stops: readonly string[],
  lo: string,
  hi: string,
  caption: string,
): HTMLElement {
  return h(
    'div',
    { class: 'legend' },
    h('div', { class: 'legend-bar', style: `background: linear-gradient(to right, ${stops.join(', ')})` }),
    h(
      'div',
      { class: 'legend-ticks' },
      h('span', {}, lo),
      h('span', { class: 'legend-caption' }, caption),
      h('span', {}, hi),
    ),
  );
}
