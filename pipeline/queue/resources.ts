/**
 * How a task's files reach a worker on another machine. Slides: the submitter rewrites slide paths
 * through a path map (`--slide-base-url URL` or `--path-map FROM=TO`) to URLs the reader opens with range
 * requests, or to the same path on a shared filesystem. Models: the submitter stores each model file in
 * Redis under its SHA-256 (once), the payload names the hash, and the worker fetches it, checks the hash
 * and keeps it in its cache folder, so the next job with that model reads it from disk.
 * Patch images a task writes (`--export`) go to the path given: a shared folder across machines.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ConfigError, ModelError, SlideNotFoundError } from '../errors.ts';
import type { RedisClient } from './redis.ts';

/** Payload fields holding a slide or image path (rewritten by the path map). */
const SLIDE_FIELDS = new Set(['slidePath', 'path']);
/** Payload fields holding one model file / one model folder (shipped by content hash). */
const FILE_FIELDS = new Set(['onnxPath', 'modelPath']);
const DIR_FIELDS = new Set(['modelDir']);

const BLOB_TAG = '$blob';
const DIR_TAG = '$blobdir';

export interface PathMapping {
  from: string;
  to: string;
}

/** `--slide-base-url URL`: every slide by its file name under URL. `--path-map FROM=TO`: prefix rewrite. */
export function parsePathMaps(baseUrl: string | undefined, maps: readonly string[]): PathMapping[] {
  const out: PathMapping[] = [];
  for (const m of maps) {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--path-map must be FROM=TO, got '${m}'`);
    out.push({ from: m.slice(0, eq), to: m.slice(eq + 1) });
  }
  if (baseUrl !== undefined) {
    if (!/^https?:\/\//i.test(baseUrl))
      throw new ConfigError(`--slide-base-url must be http(s)://…, got '${baseUrl}'`);
    out.push({ from: '', to: baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/` });
  }
  return out;
}

export function mapSlidePath(p: string, maps: readonly PathMapping[]): string {
  if (/^https?:\/\//i.test(p)) return p;
  for (const m of maps) {
    if (m.from === '') return m.to + encodeURIComponent(path.basename(p));
    if (p.startsWith(m.from)) {
      const rest = p.slice(m.from.length);
      return /^https?:\/\//i.test(m.to)
        ? m.to + rest.split(path.sep).map(encodeURIComponent).join('/')
        : m.to + rest;
    }
  }
  return p;
}

const blobKey = (sha: string) => `wsi:blob:${sha}`;
const dirKey = (sha: string) => `wsi:blobdir:${sha}`;
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Submitter side: rewrites slide paths, uploads model files (once per process) and names them by hash. */
export function createResourcePublisher(redis: RedisClient, maps: readonly PathMapping[]) {
  const uploaded = new Map<string, Promise<string>>();
  const putFile = (file: string): Promise<string> => {
    let p = uploaded.get(file);
    if (!p) {
      p = (async () => {
        if (!existsSync(file)) throw new ModelError(`model file missing: ${file}`);
        const bytes = readFileSync(file);
        const sha = sha256(bytes);
        await redis.set(blobKey(sha), bytes, 'NX');
        return sha;
      })();
      uploaded.set(file, p);
    }
    return p;
  };
  const putDir = async (dir: string): Promise<string> => {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new ModelError(`model folder missing: ${dir}`);
    const files: Record<string, string> = {};
    for (const f of readdirSync(dir).sort()) {
      const full = path.join(dir, f);
      if (statSync(full).isFile()) files[f] = await putFile(full);
    }
    const manifest = JSON.stringify(files);
    const sha = sha256(manifest);
    await redis.set(dirKey(sha), manifest, 'NX');
    return sha;
  };
  return async function publish(payload: unknown): Promise<unknown> {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    const out: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
    for (const [k, v] of Object.entries(out)) {
      if (typeof v !== 'string') continue;
      if (SLIDE_FIELDS.has(k)) out[k] = mapSlidePath(v, maps);
      else if (FILE_FIELDS.has(k)) out[k] = { [BLOB_TAG]: await putFile(v), name: path.basename(v) };
      else if (DIR_FIELDS.has(k)) out[k] = { [DIR_TAG]: await putDir(v), name: path.basename(v) };
    }
    return out;
  };
}

function writeAtomic(file: string, bytes: Uint8Array | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

/** Worker side: blob references become verified files in `cacheDir`; slide URLs of images are fetched. */
export function createResourceResolver(redis: RedisClient, cacheDir: string) {
  const fetchBlob = async (sha: string): Promise<string> => {
    const file = path.join(cacheDir, 'blobs', sha);
    if (existsSync(file)) return file;
    const bytes = await redis.getBuffer(blobKey(sha));
    if (!bytes) throw new ModelError(`model blob ${sha.slice(0, 12)} is not in Redis (submitter gone?)`);
    if (sha256(bytes) !== sha) throw new ModelError(`model blob ${sha.slice(0, 12)} fails its SHA-256 check`);
    writeAtomic(file, bytes);
    return file;
  };
  // The folder keeps its name (tasks may report a model by its folder's name).
  const fetchDir = async (sha: string, name: string): Promise<string> => {
    const safe = name && !/[/\\]/.test(name) && !name.startsWith('.') ? name : 'model';
    const dir = path.join(cacheDir, 'dirs', sha, safe);
    if (existsSync(path.join(dir, '.complete'))) return dir;
    const manifest = await redis.get(dirKey(sha));
    if (!manifest || sha256(manifest) !== sha)
      throw new ModelError(`model folder ${sha.slice(0, 12)} is missing or corrupt in Redis`);
    for (const [name, fileSha] of Object.entries(JSON.parse(manifest) as Record<string, string>)) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('.'))
        throw new ModelError(`bad model file name '${name}'`);
      writeAtomic(path.join(dir, name), readFileSync(await fetchBlob(fileSha)));
    }
    writeAtomic(path.join(dir, '.complete'), '');
    return dir;
  };
  /** Images counted whole (count-image) are read by file: fetch a URL once into the cache. */
  const fetchUrl = async (url: string): Promise<string> => {
    const file = path.join(cacheDir, 'urls', sha256(url) + path.extname(new URL(url).pathname));
    if (existsSync(file)) return file;
    const res = await fetch(url);
    if (!res.ok) throw new SlideNotFoundError(`${url}: HTTP ${res.status}`);
    writeAtomic(file, new Uint8Array(await res.arrayBuffer()));
    return file;
  };
  return async function resolve(kind: string, payload: unknown): Promise<unknown> {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    const out: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
    for (const [k, v] of Object.entries(out)) {
      if (v && typeof v === 'object' && BLOB_TAG in v)
        out[k] = await fetchBlob(String((v as Record<string, unknown>)[BLOB_TAG]));
      else if (v && typeof v === 'object' && DIR_TAG in v)
        out[k] = await fetchDir(
          String((v as Record<string, unknown>)[DIR_TAG]),
          String((v as Record<string, unknown>).name ?? ''),
        );
      else if (kind === 'count-image' && k === 'path' && typeof v === 'string' && /^https?:\/\//i.test(v))
        out[k] = await fetchUrl(v);
    }
    return out;
  };
}
