export { type Migration, type OpenStoreOptions, openStore, type Store } from './db.ts';
export { type ModelRegistration, registerModel } from './models.ts';
export {
  beginRun,
  canonicalJson,
  configHash,
  failRun,
  finishRun,
  getRun,
  isSlideDone,
  listRuns,
  markSlideDone,
  markSlideFailed,
  type RunRow,
  type RunStatus,
} from './runs.ts';
export { findSlideByName, getSlide, listSlides, type SlideRow, upsertSlide } from './slides.ts';
