import { describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { createPool } from '../pipeline/pool.ts';

describe('worker pool', () => {
  it('runs TypeScript task files in worker threads and transfers results back', async () => {
    const pool = createPool({ workers: 2, maxQueue: 2 });
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => pool.run<Float64Array>('echo', { values: [i, 1, 2] })),
      );
      expect(results.map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, i) => i + 3));
    } finally {
      await pool.close();
    }
  });

  it('rejects bad worker counts and task kinds with named errors', async () => {
    expect(() => createPool({ workers: 0 })).toThrow(ConfigError);
    const pool = createPool({ workers: 1 });
    try {
      await expect(pool.run('../etc', {})).rejects.toThrow(ConfigError);
    } finally {
      await pool.close();
    }
  });
});

describe('worker pool back-pressure', () => {
  it('lets many producers wait on a full queue without piling up listeners', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const pool = createPool({ workers: 1, maxQueue: 1 });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => pool.run<Float64Array>('echo', { values: [i] })),
      );
      expect(results.map((r) => r[0])).toEqual(Array.from({ length: 40 }, (_, i) => i));
      await new Promise((r) => setTimeout(r, 10));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await pool.close();
    }
  });
});
