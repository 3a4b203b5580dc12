/**
 * The one seeded PRNG of the pipeline (sfc32): samplers, bootstraps, training draws, splits and synthetic
 * data all take it, so a --seed reproduces a run. Its whole state is four uint32 words, so a sampler can
 * save it with a checkpoint and continue with exactly the same draws after a reload.
 */
export type RngState = [number, number, number, number];

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller; uses two draws, keeps no cached spare so the state stays four words). */
  normal(): number;
  state(): RngState;
}

/** Spread a user seed over four words (splitmix32), so nearby seeds give unrelated streams. */
function seedWords(seed: number): RngState {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    out.push((z ^ (z >>> 16)) >>> 0);
  }
  return out as RngState;
}

export function createRng(seedOrState: number | RngState): Rng {
  let [a, b, c, d] = typeof seedOrState === 'number' ? seedWords(seedOrState) : seedOrState;
  if (typeof seedOrState === 'number') {
    // Warm up: the first outputs of sfc32 from a fresh state are weakly mixed.
    for (let i = 0; i < 12; i++) step();
  }
  function step(): number {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t >>> 0;
  }
  const next = (): number => step() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal() {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    state: () => [a, b, c, d],
  };
}

/** k distinct items drawn without replacement (partial Fisher–Yates). */
export function sample<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const a = items.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(a.length - i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}
