/** Worker task: count nuclei in one slide tile; the slide is opened once per worker and kept. */
import { Piscina } from 'piscina';
import { countTile, packTile, type TileCountTask } from '../pipeline/counting/tile-count.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';

const slides = new Map<string, Promise<Slide>>();

export async function run(task: TileCountTask): Promise<unknown> {
  let s = slides.get(task.path);
  if (!s) {
    s = openSlide(task.path);
    slides.set(task.path, s);
  }
  return Piscina.move(packTile(await countTile(await s, task)));
}
