/**
 * The `wsi patches` configuration: a JSON file validated against schemas/patches-config.schema.json (errors
 * name the field), merged under the command-line flags.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError } from '../errors.ts';
import type { TissueOptions } from '../tissue/types.ts';

export interface PatchesConfig {
  slides?: string[];
  db?: string;
  mpp?: number;
  level?: number;
  size?: number;
  stride?: number;
  minTissue?: number;
  assumeMpp?: number;
  annotations?: string;
  centreSize?: number;
  unannotated?: 'unknown' | 'normal';
  export?: string;
  format?: 'png' | 'jpeg';
  quality?: number;
  workers?: number;
  batch?: number;
  tissue?: TissueOptions;
}

const SCHEMA_PATH = new URL('../../schemas/patches-config.schema.json', import.meta.url);
let validator: ReturnType<Ajv['compile']> | undefined;

function field(e: ErrorObject): string {
  const path = e.instancePath.split('/').filter(Boolean).join('.');
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `unknown field '${path ? `${path}.` : ''}${extra}'`;
  }
  if (e.keyword === 'not' && path === '') return "fields 'mpp' and 'level' exclude each other";
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues
      .map((v) => JSON.stringify(v))
      .join(', ');
    return `field '${path}' must be one of ${allowed}`;
  }
  return path ? `field '${path}' ${e.message}` : `the config ${e.message}`;
}

export function validatePatchesConfig(value: unknown, source = 'config'): PatchesConfig {
  if (!validator) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    validator = new Ajv({ allErrors: true }).compile(schema);
  }
  if (!validator(value)) {
    const errors = (validator.errors ?? []).map(field);
    throw new ConfigError(`${source}: ${[...new Set(errors)].join('; ')}`);
  }
  return value as PatchesConfig;
}

export function readPatchesConfig(path: string): PatchesConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read config file ${path}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return validatePatchesConfig(value, path);
}
