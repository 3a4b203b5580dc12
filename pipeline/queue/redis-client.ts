/**
 * A small Redis client for BullMQ. BullMQ 6 talks to Redis through its `IRedisClient` interface and needs
 * a driver (ioredis or node-redis) that this project does not install; this is that driver, over node:net
 * and RESP2, with what BullMQ relies on from ioredis: commands issued while disconnected wait, commands in
 * flight when the connection drops are sent again after it reconnects (so a Redis restart loses nothing),
 * Lua scripts run by SHA with an EVAL fallback after a restart emptied the script cache, pipelines and
 * MULTI, and the 'ready' / 'close' / 'reconnecting' / 'end' events and statuses RedisConnection waits on.
 * Replies keep ioredis's shapes (RESP2 arrays; HGETALL as an object).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ConnectionClosedError, RedisConnection } from 'bullmq';
import { encodeCommand, type RespArg, RespError, RespParser, type RespValue } from './resp.ts';

export interface RedisClientOptions {
  host?: string;
  port?: number;
  url?: string;
  db?: number;
  username?: string;
  password?: string;
  connectionName?: string;
  /** ms to wait before reconnect attempt `times` (1, 2, …); BullMQ supplies one. */
  retryStrategy?: (times: number) => number | undefined | null;
  [key: string]: unknown;
}

type Transform = (v: RespValue) => unknown;

interface Pending {
  args: RespArg[];
  binary: boolean;
  resolve(v: RespValue): void;
  reject(e: Error): void;
}

interface Script {
  sha: string;
  lua: string;
  numberOfKeys: number;
}

const CLOSED = 'Connection is closed.';

function hashOf(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
  return out;
}

/** Script arguments the way ioredis sends them: Buffers as bytes, null/undefined as ''. */
function scriptArgs(script: Script, raw: unknown[]): RespArg[] {
  const args = raw.length === 1 && Array.isArray(raw[0]) ? (raw[0] as unknown[]) : raw;
  return [
    script.numberOfKeys,
    ...args.map((a) => (Buffer.isBuffer(a) ? a : a === undefined || a === null ? '' : String(a))),
  ];
}

function parseUrl(url: string): RedisClientOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`not a redis:// URL: ${url}`);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db: db ? Number(db) : undefined,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

export class RespRedisClient extends EventEmitter {
  status = 'wait';
  readonly isCluster = false;
  options: RedisClientOptions;
  private socket: Socket | undefined;
  private parser = new RespParser();
  /** Sent, awaiting replies (in order). */
  private inFlight: Pending[] = [];
  /** Not sent yet: issued while not ready. */
  private offline: Pending[] = [];
  private scripts = new Map<string, Script>();
  private loading = new Map<string, Promise<unknown>>();
  private attempts = 0;
  private ending = false;
  private readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private corked = false;

  constructor(options: RedisClientOptions = {}) {
    super();
    const fromUrl = typeof options.url === 'string' ? parseUrl(options.url) : {};
    this.options = { host: '127.0.0.1', port: 6379, ...fromUrl, ...options };
    this.on('error', () => {}); // errors also reach callers through rejected commands
    void this.connect().catch(() => {});
  }

  connect(): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (this.status === 'wait' || this.status === 'end') {
      this.ending = false;
      this.open();
    }
    return ready;
  }

  private open(): void {
    this.status = this.attempts > 0 ? 'reconnecting' : 'connecting';
    const socket = netConnect({ host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 6379 });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    this.parser.reset();
    socket.on('connect', () => {
      this.status = 'connect';
      this.emit('connect');
      void this.handshake(socket);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.onClose(socket));
  }

  /** AUTH, SELECT and CLIENT SETNAME before anything else, then the queued commands. */
  private async handshake(socket: Socket): Promise<void> {
    const o = this.options;
    const setup: RespArg[][] = [];
    if (o.password) setup.push(o.username ? ['AUTH', o.username, o.password] : ['AUTH', o.password]);
    if (o.db) setup.push(['SELECT', o.db]);
    if (o.connectionName) setup.push(['CLIENT', 'SETNAME', String(o.connectionName)]);
    try {
      // Setup goes ahead of the commands to resend; they wait in `offline` until ready.
      await Promise.all(setup.map((args) => this.sendNow(args, false)));
    } catch (err) {
      this.emit('error', err);
      socket.destroy();
      return;
    }
    if (this.socket !== socket) return;
    this.attempts = 0;
    this.status = 'ready';
    const queued = this.offline;
    this.offline = [];
    for (const p of queued) this.write(p);
    this.emit('ready');
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  private onData(chunk: Buffer): void {
    let replies: RespValue[];
    try {
      replies = this.parser.push(chunk, (i) => this.inFlight[i]?.binary ?? false);
    } catch (err) {
      this.emit('error', err);
      this.socket?.destroy();
      return;
    }
    for (const r of replies) {
      const p = this.inFlight.shift();
      if (!p) continue;
      if (r instanceof RespError) p.reject(r);
      else p.resolve(r);
    }
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    // Unanswered commands go back to the front of the queue and are sent again after reconnecting.
    this.offline = [...this.inFlight, ...this.offline];
    this.inFlight = [];
    this.emit('close');
    if (this.ending) {
      this.finishEnd();
      return;
    }
    this.attempts++;
    const delay = this.options.retryStrategy?.(this.attempts);
    if (typeof delay !== 'number') {
      this.finishEnd();
      return;
    }
    this.status = 'reconnecting';
    this.emit('reconnecting', delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.ending) this.open();
    }, delay);
  }

  private finishEnd(): void {
    this.status = 'end';
    const err = new ConnectionClosedError(CLOSED);
    for (const p of [...this.inFlight, ...this.offline]) p.reject(err);
    this.inFlight = [];
    this.offline = [];
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    this.emit('end');
  }

  private write(p: Pending): void {
    this.inFlight.push(p);
    const socket = this.socket;
    if (!socket) return;
    // Commands issued in the same tick leave in one write (a pipeline), not one syscall each.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(encodeCommand(p.args));
  }

  /** Sends at once (setup commands, before 'ready'). */
  private sendNow(args: RespArg[], binary: boolean): Promise<RespValue> {
    return new Promise((resolve, reject) => this.write({ args, binary, resolve, reject }));
  }

  /** Any Redis command; replies as RESP2 values (bulk strings as text, or Buffers with `binary`). */
  call(args: RespArg[], binary = false): Promise<RespValue> {
    if (this.status === 'end' || this.ending) return Promise.reject(new ConnectionClosedError(CLOSED));
    return new Promise((resolve, reject) => {
      const p: Pending = { args, binary, resolve, reject };
      if (this.status === 'ready') this.write(p);
      else this.offline.push(p);
    });
  }

  disconnect(reconnect = false): void {
    if (reconnect) {
      this.socket?.destroy();
      return;
    }
    this.ending = true;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
    if (this.socket) this.socket.destroy();
    else if (this.status !== 'end') this.finishEnd();
  }

  async quit(): Promise<string> {
    if (this.status === 'ready') await this.call(['QUIT']).catch(() => {});
    this.disconnect(false);
    return 'OK';
  }

  duplicate(overrides: RedisClientOptions = {}): RespRedisClient {
    const dup = new RespRedisClient({ ...this.options, connectionName: undefined, ...overrides });
    for (const [name, s] of this.scripts)
      dup.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    return dup;
  }

  // --- Lua scripts ---

  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void {
    const script: Script = {
      sha: createHash('sha1').update(def.lua).digest('hex'),
      lua: def.lua,
      numberOfKeys: def.numberOfKeys,
    };
    this.scripts.set(name, script);
    // RedisConnection checks `client[name]` to see whether a script is defined.
    (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => this.runCommand(name, args);
  }

  scriptOf(name: string): Script {
    const s = this.scripts.get(name);
    if (!s) throw new Error(`BullMQ: unknown command "${name}"`);
    return s;
  }

  /** SCRIPT LOAD once per script however many calls met NOSCRIPT at once (a fresh or restarted server). */
  loadScript(s: Script): Promise<unknown> {
    let p = this.loading.get(s.sha);
    if (!p) {
      p = this.call(['SCRIPT', 'LOAD', s.lua]).finally(() => this.loading.delete(s.sha));
      this.loading.set(s.sha, p);
    }
    return p;
  }

  async runCommand(name: string, args: unknown[]): Promise<unknown> {
    const s = this.scriptOf(name);
    const rest = scriptArgs(s, args);
    try {
      return await this.call(['EVALSHA', s.sha, ...rest]);
    } catch (err) {
      if (!(err instanceof RespError && err.message.startsWith('NOSCRIPT'))) throw err;
      await this.loadScript(s);
      return this.call(['EVALSHA', s.sha, ...rest]);
    }
  }

  pipeline(): RespTransaction {
    return new RespTransaction(this, false);
  }

  multi(): RespTransaction {
    return new RespTransaction(this, true);
  }

  // --- Commands BullMQ calls, in ioredis's shapes ---

  async hgetall(key: string): Promise<Record<string, string>> {
    return hashOf(await this.call(['HGETALL', key]));
  }
  hget(key: string, field: string) {
    return this.call(['HGET', key, field]) as Promise<string | null>;
  }
  hmget(key: string, ...fields: string[]) {
    return this.call(['HMGET', key, ...fields]) as Promise<(string | null)[]>;
  }
  hset(key: string, data: Record<string, string | number> | string, ...rest: RespArg[]) {
    const args: RespArg[] = ['HSET', key];
    if (typeof data === 'string') args.push(data, ...rest);
    else for (const [f, v] of Object.entries(data)) args.push(f, v);
    return this.call(args) as Promise<number>;
  }
  hdel(key: string, ...fields: string[]) {
    return this.call(['HDEL', key, ...fields]) as Promise<number>;
  }
  hexists(key: string, field: string) {
    return this.call(['HEXISTS', key, field]) as Promise<number>;
  }
  get(key: string) {
    return this.call(['GET', key]) as Promise<string | null>;
  }
  getBuffer(key: string) {
    return this.call(['GET', key], true) as Promise<Buffer | null>;
  }
  set(key: string, value: RespArg, options?: { PX?: number; EX?: number } | string, ...rest: RespArg[]) {
    const args: RespArg[] = ['SET', key, value];
    if (typeof options === 'string') args.push(options, ...rest);
    else if (options?.PX != null) args.push('PX', options.PX);
    else if (options?.EX != null) args.push('EX', options.EX);
    return this.call(args) as Promise<string | null>;
  }
  del(...keys: string[]) {
    return keys.length ? (this.call(['DEL', ...keys]) as Promise<number>) : Promise.resolve(0);
  }
  exists(...keys: string[]) {
    return this.call(['EXISTS', ...keys]) as Promise<number>;
  }
  zrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean } | string) {
    const ws = typeof options === 'string' ? options === 'WITHSCORES' : options?.WITHSCORES;
    return this.call(['ZRANGE', key, start, end, ...(ws ? ['WITHSCORES'] : [])]) as Promise<string[]>;
  }
  zrevrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean } | string) {
    const ws = typeof options === 'string' ? options === 'WITHSCORES' : options?.WITHSCORES;
    return this.call(['ZREVRANGE', key, start, end, ...(ws ? ['WITHSCORES'] : [])]) as Promise<string[]>;
  }
  zcard(key: string) {
    return this.call(['ZCARD', key]) as Promise<number>;
  }
  zscore(key: string, member: string) {
    return this.call(['ZSCORE', key, member]) as Promise<string | null>;
  }
  lrange(key: string, start: number, end: number) {
    return this.call(['LRANGE', key, start, end]) as Promise<string[]>;
  }
  llen(key: string) {
    return this.call(['LLEN', key]) as Promise<number>;
  }
  ltrim(key: string, start: number, end: number) {
    return this.call(['LTRIM', key, start, end]) as Promise<string>;
  }
  lpos(key: string, value: string) {
    return this.call(['LPOS', key, value]) as Promise<number | null>;
  }
  smembers(key: string) {
    return this.call(['SMEMBERS', key]) as Promise<string[]>;
  }
  xadd(
    key: string,
    id: string,
    fields: Record<string, string | number>,
    options?: { MAXLEN?: number; approximate?: boolean },
  ) {
    const args: RespArg[] = ['XADD', key];
    if (options?.MAXLEN != null)
      args.push('MAXLEN', ...(options.approximate !== false ? ['~'] : []), options.MAXLEN);
    args.push(id);
    for (const [f, v] of Object.entries(fields)) args.push(f, v);
    return this.call(args) as Promise<string>;
  }
  xread(streams: { key: string; id: string }[], options?: { BLOCK?: number; COUNT?: number }) {
    const args: RespArg[] = ['XREAD'];
    if (options?.BLOCK != null) args.push('BLOCK', options.BLOCK);
    if (options?.COUNT != null) args.push('COUNT', options.COUNT);
    args.push('STREAMS', ...streams.map((s) => s.key), ...streams.map((s) => s.id));
    return this.call(args);
  }
  xtrim(key: string, strategy: 'MAXLEN', threshold: number, options?: { approximate?: boolean }) {
    return this.call([
      'XTRIM',
      key,
      strategy,
      ...(options?.approximate !== false ? ['~'] : []),
      threshold,
    ]) as Promise<number>;
  }
  bzpopmin(key: string, timeout: number) {
    return this.call(['BZPOPMIN', key, timeout]) as Promise<[string, string, string] | null>;
  }
  info(section?: string) {
    return this.call(section ? ['INFO', section] : ['INFO']) as Promise<string>;
  }
  client(...args: RespArg[]) {
    return this.call(['CLIENT', ...args]);
  }
  clientSetName(name: string) {
    this.options.connectionName = name;
    return this.call(['CLIENT', 'SETNAME', name]);
  }
  clientList() {
    return this.call(['CLIENT', 'LIST']) as Promise<string>;
  }
  clientInfo() {
    return this.call(['CLIENT', 'INFO']) as Promise<string>;
  }
  async scan(
    cursor: string | number,
    options?: { MATCH?: string; COUNT?: number },
  ): Promise<[string, string[]]> {
    const args: RespArg[] = ['SCAN', cursor];
    if (options?.MATCH != null) args.push('MATCH', options.MATCH);
    if (options?.COUNT != null) args.push('COUNT', options.COUNT);
    return (await this.call(args)) as [string, string[]];
  }
  scanStream(options: { match: string; count?: number }): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        let cursor = '0';
        do {
          const [next, keys] = await self.scan(cursor, { MATCH: options.match, COUNT: options.count ?? 100 });
          cursor = next;
          if (keys.length) yield keys;
        } while (cursor !== '0');
      })(),
      { objectMode: true },
    );
  }
}

/** A pipeline (commands sent together) or MULTI/EXEC transaction; `exec` gives `[error, result]` pairs. */
export class RespTransaction {
  private commands: Array<{ args: RespArg[]; transform?: Transform; script?: Script }> = [];
  constructor(
    private readonly client: RespRedisClient,
    private readonly atomic: boolean,
  ) {}

  private add(args: RespArg[], transform?: Transform, script?: Script): this {
    this.commands.push({ args, transform, script });
    return this;
  }
  hgetall(key: string) {
    return this.add(['HGETALL', key], hashOf);
  }
  hset(key: string, data: Record<string, string | number>) {
    return this.add(['HSET', key, ...Object.entries(data).flat()]);
  }
  hscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.add(['HSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : [])]);
  }
  smembers(key: string) {
    return this.add(['SMEMBERS', key]);
  }
  sscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.add(['SSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : [])]);
  }
  zrange(key: string, start: number, end: number) {
    return this.add(['ZRANGE', key, start, end]);
  }
  lrange(key: string, start: number, end: number) {
    return this.add(['LRANGE', key, start, end]);
  }
  llen(key: string) {
    return this.add(['LLEN', key]);
  }
  hmget(key: string, ...fields: string[]) {
    return this.add(['HMGET', key, ...fields]);
  }
  del(...keys: string[]) {
    return this.add(['DEL', ...keys]);
  }
  call(args: RespArg[]) {
    return this.add(args);
  }
  runCommand(name: string, args: unknown[]) {
    const s = this.client.scriptOf(name);
    return this.add(['EVALSHA', s.sha, ...scriptArgs(s, args)], undefined, s);
  }

  async exec(): Promise<[Error | null, unknown][] | null> {
    const cmds = this.commands;
    this.commands = [];
    if (this.atomic) {
      // A NOSCRIPT inside MULTI would abort the transaction: load the scripts it uses first.
      const scripts = new Set(cmds.flatMap((c) => (c.script ? [c.script] : [])));
      await Promise.all([...scripts].map((s) => this.client.loadScript(s)));
      const sent = [
        this.client.call(['MULTI']),
        ...cmds.map((c) => this.client.call(c.args)),
        this.client.call(['EXEC']),
      ];
      const settled = await Promise.allSettled(sent);
      const exec = settled[settled.length - 1];
      if (exec.status === 'rejected') {
        const queuedErr = settled.find((s) => s.status === 'rejected' && s !== exec);
        throw queuedErr && queuedErr.status === 'rejected' ? queuedErr.reason : exec.reason;
      }
      const values = exec.value as RespValue[] | null;
      if (values === null) return null;
      return values.map((v, i) =>
        v instanceof RespError ? [v, null] : [null, cmds[i].transform ? cmds[i].transform(v) : v],
      );
    }
    const settled = await Promise.allSettled(cmds.map((c) => this.client.call(c.args)));
    return Promise.all(
      settled.map(async (s, i): Promise<[Error | null, unknown]> => {
        const c = cmds[i];
        if (s.status === 'fulfilled') return [null, c.transform ? c.transform(s.value) : s.value];
        if (c.script && s.reason instanceof RespError && s.reason.message.startsWith('NOSCRIPT')) {
          try {
            await this.client.loadScript(c.script);
            return [null, await this.client.call(c.args)];
          } catch (err) {
            return [err as Error, null];
          }
        }
        return [s.reason as Error, null];
      }),
    );
  }
}

let installed = false;
let collecting: RespRedisClient[] | undefined;

/** Runs `fn` (which constructs BullMQ objects) and returns the clients BullMQ created for them meanwhile. */
export function collectClients(fn: () => void): RespRedisClient[] {
  const out: RespRedisClient[] = [];
  collecting = out;
  try {
    fn();
  } finally {
    collecting = undefined;
  }
  return out;
}

/** Makes every BullMQ connection in this process use RespRedisClient (BullMQ's documented hook). */
export function installRedisClient(): void {
  if (installed) return;
  installed = true;
  // biome-ignore lint/suspicious/noExplicitAny: BullMQ types the factory as returning its own IRedisClient.
  (RedisConnection as any).clientFactory = (opts: RedisClientOptions) => {
    const client = new RespRedisClient(opts);
    collecting?.push(client);
    return client;
  };
}
