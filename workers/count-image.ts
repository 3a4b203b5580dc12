/** Worker task: count cells in one image file (watershed or density). Cells come back as transferred Float32Arrays. */
import { Piscina } from 'piscina';
import { countImage, packCellArrays } from '../pipeline/counting/count-image.ts';
import type { DensityModelInfo } from '../pipeline/counting/density-counter.ts';
import type { TaskPayload } from '../pipeline/tasks.ts';
import { cachedModel } from './model-cache.ts';

function densityModel(dir: string): Promise<DensityModelInfo> {
  return cachedModel(`density\0${dir}`, async () => {
    const { initBackend } = await import('../pipeline/models/backend.ts');
    await initBackend({ log: () => {} });
    const { loadDensityModel } = await import('../pipeline/counting/density-io.ts');
    return loadDensityModel(dir);
  });
}

export async function run(task: TaskPayload<'count-image'>): Promise<unknown> {
  return Piscina.move(packCellArrays(await countImage(task, densityModel)));
}
