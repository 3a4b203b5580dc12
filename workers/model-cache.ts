/**
 * The one model cache of a worker thread: every task file asks it for its model (ONNX session, encoder,
 * density model) by key, so a thread loads each model once whatever task kind needs it. A failed load is
 * not kept: the next task retries and reports its own error.
 */
const models = new Map<string, Promise<unknown>>();

export function cachedModel<T>(key: string, load: () => Promise<T>): Promise<T> {
  let m = models.get(key) as Promise<T> | undefined;
  if (!m) {
    m = load();
    models.set(key, m);
    m.catch(() => models.delete(key));
  }
  return m;
}
