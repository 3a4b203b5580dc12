/** Moved to pipeline/util/rng.ts; this path stays only until pipeline/mil/study.ts imports it from there. */
export { createRng, type Rng, type RngState } from '../../util/rng.ts';
