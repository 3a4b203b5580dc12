/**
 * Imported before geotiff. geotiff depends on the `web-worker` package, which, when loaded in a
 * worker thread, destructures `worker_threads.workerData` (undefined under Piscina) and throws.
 * An empty object makes it behave as on the main thread, so the reader works in pool workers
 * without each task file having to know this.
 */
import threads from 'node:worker_threads';

const t = threads as { workerData: unknown; isMainThread: boolean };
if (!t.isMainThread && (t.workerData === undefined || t.workerData === null)) t.workerData = {};
