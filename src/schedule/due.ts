/**
 * When is a scheduled pass due? Pure time arithmetic, shared by cron and schtasks jobs.
 *
 * A job whose interval the OS scheduler cannot express exactly is fired on a finer grid (every `grid` seconds,
 * a divisor of the interval), and a firing runs a pass only when the last pass started at least the interval
 * ago, less half a grid step. The grid divides the interval, so the firing one interval after the last pass is
 * always there and always due (start-up jitter and a daylight-saving shift of a daily grid stay under half a
 * step), while the firing one step earlier never is: the passes stay exactly one interval apart. A firing that
 * was missed (machine off) is made up at the next one, and the spacing counts from there.
 *
 * Seconds intervals use fixed slots counted from the Unix epoch instead (:00, :15, :30, :45 for 15 s).
 */

/** How a scheduled run decides what to do. */
export interface DueRule {
  /** The job's interval in seconds. */
  every: number;
  /** The firing grid in seconds when the scheduler fires more often than the interval (due-check mode). */
  grid?: number;
}

export type RunMode = 'plain' | 'due-check' | 'seconds-loop';

/** plain: every firing is a pass; due-check: fired on a finer grid, skip when not due; seconds-loop: see below. */
export function runMode(rule: DueRule): RunMode {
  if (rule.every % 60 !== 0) return 'seconds-loop';
  return rule.grid !== undefined && rule.grid < rule.every ? 'due-check' : 'plain';
}

/** Due-check mode: the earliest start, after a pass started at `lastStartMs`, of the next pass. */
function earliestNext(rule: DueRule, lastStartMs: number): number {
  return lastStartMs + rule.every * 1000 - ((rule.grid ?? rule.every) * 1000) / 2;
}

/** True when a firing at `nowMs` should run a pass (plain mode: always). */
export function isDue(rule: DueRule, nowMs: number, lastStartMs: number | undefined): boolean {
  const mode = runMode(rule);
  if (mode === 'plain' || lastStartMs === undefined) return true;
  if (mode === 'seconds-loop') return Math.floor(nowMs / (rule.every * 1000)) > Math.floor(lastStartMs / (rule.every * 1000));
  return nowMs >= earliestNext(rule, lastStartMs);
}

/**
 * Seconds intervals: the scheduler fires once a minute, and that run owns the slots that start within its
 * minute. Returns the start times (ms) of the slots of `every` seconds that begin in [minuteStart, minuteStart+60s),
 * e.g. 15 s -> :00, :15, :30, :45; 90 s -> one or none; 7 s -> 8 or 9.
 */
export function slotsInMinute(minuteStartMs: number, every: number): number[] {
  const step = every * 1000;
  const end = minuteStartMs + 60_000;
  const out: number[] = [];
  for (let t = Math.ceil(minuteStartMs / step) * step; t < end; t += step) out.push(t);
  return out;
}

/** The start of the minute `ms` falls in. */
export function minuteStart(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

/**
 * The next time a pass will start, given the scheduler's next firing after a moment (`nextFiring`), the rule
 * and the last pass. For seconds intervals: the next slot start not yet run.
 */
export function nextPassTime(rule: DueRule, nowMs: number, lastStartMs: number | undefined, nextFiring: (afterMs: number) => number): number {
  const mode = runMode(rule);
  const step = rule.every * 1000;
  if (mode === 'seconds-loop') {
    // While this minute's run is going (a pass started in it), its next slot; otherwise the next firing.
    const minute = minuteStart(nowMs);
    if (lastStartMs !== undefined && lastStartMs >= minute) {
      const t = Math.max((Math.floor(lastStartMs / step) + 1) * step, Math.ceil(nowMs / step) * step);
      if (t < minute + 60_000) return t;
    }
    return nextFiring(nowMs);
  }
  if (mode === 'plain') return nextFiring(nowMs);
  const from = lastStartMs === undefined ? nowMs : Math.max(nowMs, earliestNext(rule, lastStartMs) - 1);
  return nextFiring(from);
}
