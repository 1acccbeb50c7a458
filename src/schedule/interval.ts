import { UsageError } from '../errors.js';

export type IntervalUnit = 'seconds' | 'minutes' | 'hours' | 'days' | 'weeks';

/** A parsed `<interval> <unit>` pair, e.g. 7 minutes. */
export interface Interval {
  /** The whole number the user gave (7). */
  count: number;
  /** The canonical plural unit ('minutes'). */
  unit: IntervalUnit;
  /** The length in seconds (420). */
  seconds: number;
  /** In words, for messages and `list`: "every 7 minutes", "every minute". */
  words: string;
}

/** Seconds per unit, in the order `intervalFromSeconds` tries them (largest first). */
export const UNIT_SECONDS: Readonly<Record<IntervalUnit, number>> = {
  weeks: 604_800,
  days: 86_400,
  hours: 3_600,
  minutes: 60,
  seconds: 1,
};

export const UNITS = Object.keys(UNIT_SECONDS).reverse() as IntervalUnit[];

/** The longest interval accepted: 366 days (a year, leap or not); longer ones are almost always a typo. */
export const MAX_INTERVAL_SECONDS = 366 * 86_400;

const SINGULAR: Record<IntervalUnit, string> = {
  seconds: 'second',
  minutes: 'minute',
  hours: 'hour',
  days: 'day',
  weeks: 'week',
};

function parseUnit(text: string): IntervalUnit | undefined {
  const lower = text.trim().toLowerCase();
  for (const unit of UNITS) if (lower === unit || lower === SINGULAR[unit]) return unit;
  return undefined;
}

/** "every minute", "every 7 minutes". */
export function intervalWords(count: number, unit: IntervalUnit): string {
  return count === 1 ? `every ${SINGULAR[unit]}` : `every ${count} ${unit}`;
}

/**
 * Parse the `<interval> <unit>` arguments: a positive whole number, and seconds/minutes/hours/days/weeks
 * (singular or plural, any case). Throws UsageError (exit 2) with one line otherwise.
 */
export function parseInterval(count: string | number, unit: string): Interval {
  const text = String(count).trim();
  const parsedUnit = parseUnit(String(unit));
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) === 0) {
    throw new UsageError(`interval must be a positive whole number, got ${JSON.stringify(String(count))}`);
  }
  if (!parsedUnit) {
    throw new UsageError(`unit must be one of ${UNITS.join(', ')} (singular also accepted), got ${JSON.stringify(String(unit))}`);
  }
  const n = Number(text);
  const seconds = n * UNIT_SECONDS[parsedUnit];
  if (seconds > MAX_INTERVAL_SECONDS) {
    throw new UsageError(`interval ${n} ${parsedUnit} is too long: at most 366 days`);
  }
  return { count: n, unit: parsedUnit, seconds, words: intervalWords(n, parsedUnit) };
}

/** The interval for a length in seconds, in the largest unit that divides it (420 -> 7 minutes). */
export function intervalFromSeconds(seconds: number): Interval {
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_INTERVAL_SECONDS) {
    throw new UsageError(`interval must be 1 to ${MAX_INTERVAL_SECONDS} seconds, got ${JSON.stringify(String(seconds))}`);
  }
  for (const unit of Object.keys(UNIT_SECONDS) as IntervalUnit[]) {
    const size = UNIT_SECONDS[unit];
    if (seconds % size === 0) {
      const count = seconds / size;
      return { count, unit, seconds, words: intervalWords(count, unit) };
    }
  }
  throw new Error('unreachable: every length is a whole number of seconds');
}
