/**
 * The queue executor's contract, with an in-process worker: results decode to what the task returned,
 * a task submitted twice is one job, a resubmitting run collects stored results without adding jobs,
 * a task that fails every attempt rejects with QueueTaskError carrying the worker's one-line message (and
 * a rerun retries it), model files travel by verified content hash, slide paths map to URLs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ModelError } from '../pipeline/errors.ts';
import { decode, encode } from '../pipeline/queue/codec.ts';
import { createQueueExecutor, QueueTaskError } from '../pipeline/queue/executor.ts';
import { parseQueueUrl } from '../pipeline/queue/names.ts';
import { redisClient, whenReady } from '../pipeline/queue/redis.ts';
import {
  createResourcePublisher,
  createResourceResolver,
  mapSlidePath,
  parsePathMaps,
} from '../pipeline/queue/resources.ts';
import { type QueueWorkerHandle, startQueueWorker } from '../pipeline/queue/worker.ts';
import { tempDir } from './helpers/paths.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

const tmp = tempDir('queue-executor');
let redis: TestRedis;
let worker: QueueWorkerHandle;

beforeAll(async () => {
  redis = await startRedis();
  worker = await startQueueWorker({ url: redis.url, inProcess: true, concurrency: 2, name: 'unit' });
});

afterAll(async () => {
  await worker?.close();
  await redis?.stop();
  tmp.cleanup();
});

const roundTrip = (v: unknown) => decode(JSON.parse(JSON.stringify(encode(v))));

describe('queue messages', () => {
  it('typed arrays, buffers, special numbers and Piscina.move values survive JSON', () => {
    const f32 = new Float32Array([1.5, Number.NaN, -0, 3e38]);
    const v = {
      a: f32,
      b: [new Uint8Array([0, 255]), new ArrayBuffer(3)],
      n: Number.NaN,
      i: -Infinity,
      z: -0,
      s: 'x',
    };
    const back = roundTrip(v) as typeof v;
    expect(back.a).toBeInstanceOf(Float32Array);
    expect(Array.from(back.a)).toEqual(Array.from(f32));
    expect(back.b[0]).toEqual(new Uint8Array([0, 255]));
    expect(back.b[1]).toBeInstanceOf(ArrayBuffer);
    expect(Number.isNaN(back.n) && back.i === -Infinity && Object.is(back.z, -0)).toBe(true);
    const moved = roundTrip(Piscina.move(new Float64Array([7, 8])));
    expect(moved).toEqual(new Float64Array([7, 8]));
    // A view on part of a bigger buffer encodes only its own bytes.
    const view = new Int16Array(new Int16Array([1, 2, 3, 4]).buffer, 2, 2);
    expect(roundTrip(view)).toEqual(new Int16Array([2, 3]));
  });

  it('slide paths map to URLs or other paths; bad maps are refused', () => {
    const base = parsePathMaps('http://h:8000/slides', []);
    expect(mapSlidePath('/data/a b.svs', base)).toBe('http://h:8000/slides/a%20b.svs');
    const prefix = parsePathMaps(undefined, ['/data/=https://cdn/x/', '/mnt/a=/mnt/b']);
    expect(mapSlidePath('/data/sub/c.tif', prefix)).toBe('https://cdn/x/sub/c.tif');
    expect(mapSlidePath('/mnt/a/d.svs', prefix)).toBe('/mnt/b/d.svs');
    expect(mapSlidePath('/other/e.svs', prefix)).toBe('/other/e.svs');
    expect(() => parsePathMaps('ftp://x', [])).toThrow(ConfigError);
    expect(() => parsePathMaps(undefined, ['nothing'])).toThrow(ConfigError);
  });
});

describe('queue executor', () => {
  it('runs tasks on a worker; the same task twice is one job; a rerun collects stored results', async () => {
    const exec = await createQueueExecutor({ url: redis.url, runKey: 'unit-run-1' });
    const [a, b, c] = await Promise.all([
      exec.run<Float64Array>('echo', { values: [1, 2, 3] }),
      exec.run<Float64Array>('echo', { values: [1, 2, 3] }),
      exec.run<Float64Array>('echo', { values: [10] }, { jobId: 'slide-1/chunk-0' }),
    ]);
    expect(a).toEqual(new Float64Array([6]));
    expect(b).toEqual(new Float64Array([6]));
    expect(c).toEqual(new Float64Array([10]));
    expect(exec.stats.added).toBe(2);
    await exec.close();

    const rerun = await createQueueExecutor({ url: redis.url, runKey: 'unit-run-1' });
    expect(await rerun.run('echo', { values: [1, 2, 3] })).toEqual(new Float64Array([6]));
    expect(await rerun.run('echo', { values: [10] }, { jobId: 'slide-1/chunk-0' })).toEqual(
      new Float64Array([10]),
    );
    expect(rerun.stats).toMatchObject({ added: 0, collected: 2 });
    // A rerun that plans chunk 0 differently (patches plans only rows not yet stored) gets its own job,
    // never the old chunk's stored result.
    expect(await rerun.run('echo', { values: [99] }, { jobId: 'slide-1/chunk-0' })).toEqual(
      new Float64Array([99]),
    );
    expect(rerun.stats.added).toBe(1);
    await rerun.close();

    // Another run (another key) shares nothing.
    const other = await createQueueExecutor({ url: redis.url, runKey: 'unit-run-2' });
    expect(await other.run('echo', { values: [1, 2, 3] })).toEqual(new Float64Array([6]));
    expect(other.stats.added).toBe(1);
    await other.close();
  });

  it('a task failing every attempt rejects with QueueTaskError and the worker message; a rerun retries it', async () => {
    const exec = await createQueueExecutor({
      url: redis.url,
      runKey: 'unit-fail',
      attempts: 2,
      backoffMs: 20,
    });
    const err = await exec.run('echo', { values: 'not a list' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueTaskError);
    expect((err as Error).message).toMatch(/^echo failed after 2 attempt\(s\) on the queue: TypeError: /);
    expect((err as Error).message).not.toContain('\n');
    await exec.close();
    const rerun = await createQueueExecutor({
      url: redis.url,
      runKey: 'unit-fail',
      attempts: 2,
      backoffMs: 20,
    });
    await expect(rerun.run('echo', { values: 'not a list' })).rejects.toThrow(QueueTaskError);
    expect(rerun.stats.retried).toBe(1);
    await rerun.close();
  });

  it('refuses an unreachable Redis with a one-line ConfigError', async () => {
    await expect(
      createQueueExecutor({ url: 'redis://127.0.0.1:1', runKey: 'x', connectTimeoutMs: 1500 }),
    ).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});

describe('model files by content hash', () => {
  it('are stored once, fetched, verified and cached by the worker', async () => {
    const client = redisClient(parseQueueUrl(redis.url));
    try {
      await whenReady(client, redis.url, 10_000);
      const modelDir = path.join(tmp.path, 'model');
      mkdirSync(modelDir, { recursive: true });
      writeFileSync(path.join(modelDir, 'model.json'), '{"a":1}');
      writeFileSync(path.join(modelDir, 'weights.bin'), Buffer.from([0, 1, 2, 250]));
      const onnx = path.join(tmp.path, 'm.onnx');
      writeFileSync(onnx, Buffer.alloc(70_000, 7));
      const publish = createResourcePublisher(client, parsePathMaps('http://s/', []));
      const sent = (await publish({ onnxPath: onnx, modelDir, slidePath: '/x/y.svs', n: 1 })) as Record<
        string,
        unknown
      >;
      expect(JSON.stringify(sent)).not.toContain(tmp.path);
      expect(sent.slidePath).toBe('http://s/y.svs');
      const resolve = createResourceResolver(client, path.join(tmp.path, 'cache'));
      const got = (await resolve('infer-tile', sent)) as Record<string, string>;
      expect(readFileSync(got.onnxPath)).toEqual(readFileSync(onnx));
      expect(readFileSync(path.join(got.modelDir, 'weights.bin'))).toEqual(Buffer.from([0, 1, 2, 250]));
      // A blob whose bytes do not match its hash is refused (fresh cache, tampered Redis value).
      const sha = (sent.onnxPath as Record<string, string>).$blob;
      await client.set(`wsi:blob:${sha}`, Buffer.from('tampered'));
      const fresh = createResourceResolver(client, path.join(tmp.path, 'cache2'));
      await expect(fresh('infer-tile', { onnxPath: sent.onnxPath })).rejects.toThrow(ModelError);
    } finally {
      client.disconnect();
    }
  });
});
