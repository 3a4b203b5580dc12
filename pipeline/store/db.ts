/**
 * Opening the SQLite store: WAL mode, foreign keys, and the numbered migrations in schemas/.
 * The main thread is the only writer; workers never open the store for writing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';

export interface Store {
  readonly db: Database.Database;
  readonly path: string;
  close(): void;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
const MIGRATION_FILE = /^(\d{3})_([a-z0-9_-]+)\.sql$/;

function loadMigrations(dir: string = SCHEMAS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .map((file) => ({ file, match: MIGRATION_FILE.exec(file) }))
    .filter((m): m is { file: string; match: RegExpExecArray } => m.match !== null)
    .map(({ file, match }) => ({
      version: Number(match[1]),
      name: match[2],
      sql: readFileSync(join(dir, file), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new StoreError(`two migrations share number ${migrations[i].version} in ${dir}`);
    }
  }
  return migrations;
}

function applyMigrations(db: Database.Database, migrations: Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  const newest = migrations.at(-1)?.version ?? 0;
  const unknown = [...applied].filter((v) => v > newest);
  if (unknown.length > 0) {
    throw new StoreError(
      `the store was written by a newer wsi-pipeline (schema ${Math.max(...unknown)} > ${newest}); upgrade first`,
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name);
    })();
  }
}

export interface OpenStoreOptions {
  readonly?: boolean;
  /** Migrations folder (tests only). */
  schemasDir?: string;
}

export function openStore(path: string, options: OpenStoreOptions = {}): Store {
  let db: Database.Database;
  try {
    db = new Database(path, {
      readonly: options.readonly ?? false,
      fileMustExist: options.readonly ?? false,
    });
  } catch (err) {
    throw new StoreError(`cannot open store ${path}: ${(err as Error).message}`);
  }
  try {
    const rtree = db.prepare("SELECT sqlite_compileoption_used('ENABLE_RTREE') AS on_").get() as {
      on_: number;
    };
    if (!rtree.on_) throw new StoreError('this SQLite build has no R*Tree module; cell queries need it');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) applyMigrations(db, loadMigrations(options.schemasDir));
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot use store ${path}: ${(err as Error).message}`);
  }
  return {
    db,
    path,
    close() {
      if (db.open) db.close();
    },
  };
}
