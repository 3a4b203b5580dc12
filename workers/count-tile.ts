/** Worker task: count nuclei in one slide tile; the slide is opened once per worker and kept. */
import { Piscina } from 'piscina';
import { countTile, packTile } from '../pipeline/counting/tile-count.ts';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import type { TaskPayload } from '../pipeline/tasks.ts';

const slides = createOpenSlideCache(4);

export async function run(task: TaskPayload<'count-tile'>): Promise<unknown> {
  const slide = await slides.get(task.path);
  return Piscina.move(packTile(await countTile(slide, task)));
}
