import { describe, expect, it } from 'vitest';
import { numberFlag, parseFlags } from '../pipeline/args.ts';
import { ConfigError } from '../pipeline/errors.ts';

const OPTIONS = {
  x: { type: 'string' },
  y: { type: 'string' },
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
} as const;

describe('parseFlags', () => {
  it('takes a negative number as the value of a flag that takes one, in every spelling', () => {
    const p = parseFlags(['slide.svs', '--x', '-20', '--y=-0.5', '-o', '-3', '--json'], { ...OPTIONS });
    expect(numberFlag(p, 'x')).toBe(-20);
    expect(numberFlag(p, 'y')).toBe(-0.5);
    expect(p.values.output).toBe('-3');
    expect(p.values.json).toBe(true);
    expect(p.positionals).toEqual(['slide.svs']);
    expect(numberFlag(parseFlags(['--x', '-.25'], { ...OPTIONS }), 'x')).toBe(-0.25);
  });

  it('still refuses a missing value, an unknown flag, and a negative number after a boolean flag', () => {
    expect(() => parseFlags(['--x', '--json'], { ...OPTIONS })).toThrow(ConfigError);
    expect(() => parseFlags(['--x', '-z'], { ...OPTIONS })).toThrow(ConfigError);
    expect(() => parseFlags(['--json', '-5'], { ...OPTIONS })).toThrow(ConfigError);
    expect(() => parseFlags(['--nope', '1'], { ...OPTIONS })).toThrow(/nope/);
  });

  it('leaves everything after -- as positionals', () => {
    expect(parseFlags(['--', '--x', '-1'], { ...OPTIONS }).positionals).toEqual(['--x', '-1']);
  });
});
