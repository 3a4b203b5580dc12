/** Trivial task used by the pool's own tests: returns the payload's numbers summed, in a transferred buffer. */
import { Piscina } from 'piscina';

export function run(payload: { values: number[] }): unknown {
  const out = new Float64Array([payload.values.reduce((a, b) => a + b, 0)]);
  return Piscina.move(out);
}
