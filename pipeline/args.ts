/** Flag parsing for commands: node's parseArgs with errors turned into ConfigError and typed number reads. */
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.ts';

export type OptionSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean | string[] }
>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * node's parseArgs refuses `--x -20` ("argument is ambiguous"): a value that starts with '-' looks like a
 * flag. A negative number after a flag that takes a value is that flag's value, so it is joined to it
 * (`--x=-20`, `-o-5`) before parsing.
 */
function joinNegativeValues(argv: readonly string[], options: OptionSpec): string[] {
  const takesValue = (arg: string): boolean => {
    if (arg.startsWith('--')) return options[arg.slice(2)]?.type === 'string';
    if (/^-[^-]$/.test(arg))
      return Object.values(options).some((o) => o.short === arg[1] && o.type === 'string');
    return false;
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (next !== undefined && NEGATIVE_NUMBER.test(next) && takesValue(arg)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function parseFlags(argv: string[], options: OptionSpec, allowPositionals = true): Parsed {
  try {
    const args = joinNegativeValues(argv, options);
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function stringFlag(p: Parsed, name: string, required: true): string;
export function stringFlag(p: Parsed, name: string, required?: false): string | undefined;
export function stringFlag(p: Parsed, name: string, required = false): string | undefined {
  const v = p.values[name];
  if (v === undefined || v === false) {
    if (required) throw new ConfigError(`--${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ConfigError(`--${name} takes a value`);
  return v;
}

export interface NumberRule {
  required?: boolean;
  integer?: boolean;
  min?: number;
  max?: number;
  default?: number;
}

export function numberFlag(p: Parsed, name: string, rule: NumberRule & { required: true }): number;
export function numberFlag(p: Parsed, name: string, rule: NumberRule & { default: number }): number;
export function numberFlag(p: Parsed, name: string, rule?: NumberRule): number | undefined;
export function numberFlag(p: Parsed, name: string, rule: NumberRule = {}): number | undefined {
  const raw = stringFlag(p, name, false);
  if (raw === undefined) {
    if (rule.required) throw new ConfigError(`--${name} is required`);
    return rule.default;
  }
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v))
    throw new ConfigError(`--${name} must be a number, got '${raw}'`);
  if (rule.integer && !Number.isInteger(v))
    throw new ConfigError(`--${name} must be an integer, got '${raw}'`);
  if (rule.min !== undefined && v < rule.min)
    throw new ConfigError(`--${name} must be at least ${rule.min}, got ${v}`);
  if (rule.max !== undefined && v > rule.max)
    throw new ConfigError(`--${name} must be at most ${rule.max}, got ${v}`);
  return v;
}

export function boolFlag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}
