/** Worker task: count one plate field or image with the counter its method picks, and measure its QC. */
import { type CountFieldTask, countField } from '../pipeline/counting/count-field.ts';
import { packCellArrays } from '../pipeline/counting/count-image.ts';
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

export async function run(task: CountFieldTask): Promise<unknown> {
  // Structured clone: an object of a few numbers plus one Float64Array of cells (small per field).
  const r = await countField(task, densityModel);
  return { ...r, cells: packCellArrays(r.cells) };
}
