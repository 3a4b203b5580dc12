/** Worker task: count cells in one image file (watershed or density). Cells come back as transferred Float32Arrays. */
import { Piscina } from 'piscina';
import { type CountImageTask, countImage, packCellArrays } from '../pipeline/counting/count-image.ts';
import type { DensityModelInfo } from '../pipeline/counting/density-counter.ts';

const models = new Map<string, Promise<DensityModelInfo>>();

async function densityModel(dir: string): Promise<DensityModelInfo> {
  let m = models.get(dir);
  if (!m) {
    m = (async () => {
      const { initBackend } = await import('../pipeline/models/backend.ts');
      await initBackend({ log: () => {} });
      const { loadDensityModel } = await import('../pipeline/counting/density-io.ts');
      return loadDensityModel(dir);
    })();
    models.set(dir, m);
  }
  return m;
}

export async function run(task: CountImageTask): Promise<unknown> {
  return Piscina.move(packCellArrays(await countImage(task, densityModel)));
}
