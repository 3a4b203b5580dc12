// Piscina worker entry. Plain JS so it loads in any worker thread; it registers tsx and then
// dispatches each task to workers/<kind>.ts, whose `run(payload)` does the work.
import { register } from 'tsx/esm/api';

register();
const modules = new Map();
const KIND = /^[a-z][a-z0-9-]*$/;

export default async function dispatch({ kind, payload }) {
  if (!KIND.test(kind)) throw new Error(`invalid worker task kind '${kind}'`);
  let mod = modules.get(kind);
  if (!mod) {
    mod = await import(new URL(`./${kind}.ts`, import.meta.url).href);
    modules.set(kind, mod);
  }
  return mod.run(payload);
}
