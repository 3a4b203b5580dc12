/** Client entry: a hash router over the three pages (#/, #/slide/<id>, #/plate/<run>/<plate>). */
import './styles.css';
import { h } from './dom.ts';
import { listPage } from './pages/list.ts';
import { platePage } from './pages/plate.ts';
import { slidePage } from './pages/slide.ts';

const root = document.getElementById('app')!;
let teardown: (() => void) | undefined;

async function route(): Promise<void> {
  teardown?.();
  teardown = undefined;
  root.replaceChildren();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === 'slide' && parts[1]) teardown = await slidePage(root, parts[1], params);
    else if (parts[0] === 'plate' && parts[1] && parts[2])
      teardown = await platePage(root, Number(parts[1]), parts[2]);
    else teardown = await listPage(root);
    document.body.dataset.page = parts[0] ?? 'list';
  } catch (err) {
    root.replaceChildren(
      h(
        'div',
        { class: 'error-page' },
        h('h1', {}, 'Cannot show this page'),
        h('p', {}, (err as Error).message),
        h('a', { href: '#/' }, '← Slides'),
      ),
    );
  }
}

window.addEventListener('hashchange', () => void route());
void route();
