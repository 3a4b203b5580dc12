// Piscina worker entry. Plain JS so it loads in any worker thread; it dispatches each task to
// workers/<kind>.ts, whose `run(payload)` does the work. That module comes compiled from dist/ while the
// build is fresh (see bin/fresh-build.mjs), else from the TypeScript source through tsx.
import { checkBuild } from '../bin/fresh-build.mjs';

const build = checkBuild();
if (!build.fresh) (await import('tsx/esm/api')).register();
const modules = new Map();
const KIND = /^[a-z][a-z0-9-]*$/;

export default async function dispatch({ kind, payload }) {
  if (!KIND.test(kind)) throw new Error(`invalid worker task kind '${kind}'`);
  let mod = modules.get(kind);
  if (!mod) {
    const url = build.fresh ? build.workerUrl(kind) : new URL(`./${kind}.ts`, import.meta.url).href;
    if (!url) throw new Error(`no worker task file workers/${kind}.ts`);
    mod = await import(url);
    modules.set(kind, mod);
  }
  return mod.run(payload);
}
