/** Argument checks shared by the pass-running commands (pure: no CLI spawned). */
import { describe, expect, it } from 'vitest';
import { checkArgs, parseCount, parseLogFormat } from '../src/commands/_args.js';
import { syncOnceArgs } from '../src/commands/sync-once.js';
import { UsageError } from '../src/errors.js';

describe('parseCount', () => {
  const ok: [unknown, number | undefined][] = [
    [undefined, undefined],
    ['0', 0],
    ['7', 7],
    ['0012', 12],
    ['9007199254740991', 9007199254740991],
  ];
  for (const [value, want] of ok) it(`${JSON.stringify(value)} -> ${want}`, () => expect(parseCount(value, '--max-delete')).toBe(want));
  const bad = ['-1', '1.5', '1e3', 'x', '', ' 3', '0x10', '9007199254740993', 'Infinity', 'NaN'];
  for (const value of bad) {
    it(`${JSON.stringify(value)} is a usage error naming the flag`, () => {
      expect(() => parseCount(value, '--max-delete')).toThrow(UsageError);
      expect(() => parseCount(value, '--max-delete')).toThrow(/--max-delete/);
    });
  }
});

describe('parseLogFormat', () => {
  it('defaults to text', () => expect(parseLogFormat(undefined)).toBe('text'));
  for (const f of ['text', 'json'] as const) it(f, () => expect(parseLogFormat(f)).toBe(f));
  for (const f of ['JSON', 'xml', '', 'jsonl'])
    it(`${JSON.stringify(f)} is a usage error`, () => expect(() => parseLogFormat(f)).toThrow(UsageError));
});

describe('checkArgs (sync-once)', () => {
  const ok: string[][] = [
    ['a', 'b'],
    ['a', 'b', '--checksum', '--dry-run', '--quiet', '--verbose', '--allow-empty-source'],
    ['a', 'b', '--log', 'x.log', '--log-format', 'json', '--max-delete', '3'],
    ['a', 'b', '--log=x.log', '--max-delete=3'],
    ['--max-delete', '-1', 'a', 'b'], // the value is checked by parseCount, not here
    ['--', '-a', '-b'],
    ['a', 'b', '--no-checksum'],
  ];
  for (const args of ok) it(`accepts ${args.join(' ')}`, () => expect(() => checkArgs(args, syncOnceArgs)).not.toThrow());

  const bad: [string[], RegExp][] = [
    [[], /missing argument <source>/],
    [['a'], /missing argument <replica>/],
    [['a', 'b', 'c'], /too many arguments/],
    [['a', 'b', '--bogus'], /unknown option "--bogus"/],
    [['a', 'b', '-x'], /unknown option "-x"/],
    [['a', 'b', '--log'], /--log needs a value/],
    [['a', 'b', '--max-delete'], /--max-delete needs a value/],
    [['a', 'b', '--checksum=yes'], /takes no value/],
    [['a', 'b', '--no-log'], /unknown option/],
  ];
  for (const [args, want] of bad) {
    it(`rejects ${JSON.stringify(args.join(' '))}`, () => {
      expect(() => checkArgs(args, syncOnceArgs)).toThrow(UsageError);
      expect(() => checkArgs(args, syncOnceArgs)).toThrow(want);
    });
  }
});
