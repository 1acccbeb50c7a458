import { describe, expect, it } from 'vitest';
import { ExitCode, UsageError } from '../src/errors.js';
import { intervalFromSeconds, parseInterval } from '../src/schedule/interval.js';

describe('parseInterval', () => {
  const good: [string, string, { count: number; unit: string; seconds: number; words: string }][] = [
    ['15', 'seconds', { count: 15, unit: 'seconds', seconds: 15, words: 'every 15 seconds' }],
    ['1', 'second', { count: 1, unit: 'seconds', seconds: 1, words: 'every second' }],
    ['7', 'minutes', { count: 7, unit: 'minutes', seconds: 420, words: 'every 7 minutes' }],
    ['1', 'Minute', { count: 1, unit: 'minutes', seconds: 60, words: 'every minute' }],
    ['90', 'MINUTES', { count: 90, unit: 'minutes', seconds: 5400, words: 'every 90 minutes' }],
    ['2', 'hour', { count: 2, unit: 'hours', seconds: 7200, words: 'every 2 hours' }],
    ['3', 'Days', { count: 3, unit: 'days', seconds: 259_200, words: 'every 3 days' }],
    ['1', 'week', { count: 1, unit: 'weeks', seconds: 604_800, words: 'every week' }],
    ['2', 'WEEKS', { count: 2, unit: 'weeks', seconds: 1_209_600, words: 'every 2 weeks' }],
    ['007', 'minutes', { count: 7, unit: 'minutes', seconds: 420, words: 'every 7 minutes' }],
    ['366', 'days', { count: 366, unit: 'days', seconds: 31_622_400, words: 'every 366 days' }],
    ['31622400', 'seconds', { count: 31_622_400, unit: 'seconds', seconds: 31_622_400, words: 'every 31622400 seconds' }],
  ];
  for (const [count, unit, want] of good) {
    it(`accepts ${count} ${unit}`, () => {
      expect(parseInterval(count, unit)).toEqual(want);
    });
  }

  const bad: [string, string, RegExp][] = [
    ['0', 'minutes', /positive whole number/],
    ['-5', 'minutes', /positive whole number/],
    ['1.5', 'hours', /positive whole number/],
    ['1e3', 'seconds', /positive whole number/],
    ['', 'minutes', /positive whole number/],
    ['seven', 'minutes', /positive whole number/],
    ['99999999999999999999', 'seconds', /positive whole number/],
    ['5', 'fortnights', /unit must be one of seconds, minutes, hours, days, weeks/],
    ['5', 'min', /unit must be one of/],
    ['5', '', /unit must be one of/],
    ['5', 'm', /unit must be one of/],
    ['53', 'weeks', /too long: at most 366 days/],
    ['367', 'days', /too long/],
    ['31622401', 'seconds', /too long/],
  ];
  for (const [count, unit, message] of bad) {
    it(`refuses ${JSON.stringify(count)} ${JSON.stringify(unit)} with exit 2`, () => {
      let caught: unknown;
      try {
        parseInterval(count, unit);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UsageError);
      expect((caught as UsageError).exitCode).toBe(ExitCode.usage);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain('\n');
    });
  }
});

describe('intervalFromSeconds', () => {
  const cases: [number, string][] = [
    [15, 'every 15 seconds'],
    [60, 'every minute'],
    [90, 'every 90 seconds'],
    [420, 'every 7 minutes'],
    [5400, 'every 90 minutes'],
    [7200, 'every 2 hours'],
    [86_400, 'every day'],
    [259_200, 'every 3 days'],
    [1_209_600, 'every 2 weeks'],
  ];
  for (const [seconds, words] of cases) {
    it(`${seconds} s is ${words}`, () => {
      const i = intervalFromSeconds(seconds);
      expect(i.words).toBe(words);
      expect(i.seconds).toBe(seconds);
      expect(parseInterval(String(i.count), i.unit)).toEqual(i);
    });
  }
  it('refuses 0, fractions and more than a year', () => {
    for (const s of [0, 1.5, -1, 31_622_401, Number.NaN]) expect(() => intervalFromSeconds(s)).toThrow(UsageError);
  });
});
