import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusyError, ExitCode, RefusedError } from '../src/errors.js';
import { cronTiming, nextCronTime } from '../src/schedule/cron.js';
import { isDue, nextPassTime, slotsInMinute, type DueRule } from '../src/schedule/due.js';
import { parseInterval } from '../src/schedule/interval.js';
import { readJobRecord } from '../src/schedule/record.js';
import { runScheduled, scheduledRunFromArgs, type PassHooks, type ScheduledRun } from '../src/schedule/scheduled-run.js';
import { overdueWarning } from '../src/schedule/status.js';
import type { SyncResult } from '../src/sync/sync-once.js';
import { tempDir } from './_tree.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const originalTZ = process.env['TZ'];
afterEach(() => {
  if (originalTZ === undefined) delete process.env['TZ'];
  else process.env['TZ'] = originalTZ;
});

/**
 * Simulate cron firing the job's line for `span` ms (each firing a little late, as cron and Node start-up are)
 * and return the start times of the passes the due-check lets through.
 */
function simulate(every: number, span: number, start: number, jitter = (i: number): number => (i * 7919) % 1500): number[] {
  const t = cronTiming(every);
  const passes: number[] = [];
  let firing = nextCronTime(t.expr, start);
  for (let i = 0; firing < start + span; i++, firing = nextCronTime(t.expr, firing)) {
    const now = firing + jitter(i);
    if (isDue(t.rule, now, passes.at(-1))) passes.push(now);
  }
  return passes;
}

function gaps(passes: number[]): number[] {
  return passes.slice(1).map((p, i) => p - (passes[i] as number));
}

describe('due-check: passes stay exactly one interval apart on a finer cron grid', () => {
  const cases: [string, string, number][] = [
    ['7', 'minutes', 40],
    ['45', 'minutes', 30],
    ['90', 'minutes', 30],
    ['5', 'hours', 20],
    ['9', 'hours', 20],
    ['36', 'hours', 12],
    ['3', 'days', 10],
    ['2', 'weeks', 6],
  ];
  for (const [n, unit, count] of cases) {
    it(`every ${n} ${unit}: ${count} passes, every gap the interval (within start-up jitter), across hour and day boundaries`, () => {
      process.env['TZ'] = 'UTC';
      const every = parseInterval(n, unit).seconds;
      const passes = simulate(every, count * every * 1000, Date.UTC(2026, 0, 5, 10, 17, 0));
      expect(passes.length).toBeGreaterThanOrEqual(count - 1);
      expect(passes.length).toBeLessThanOrEqual(count + 1);
      for (const g of gaps(passes)) expect(Math.abs(g - every * 1000)).toBeLessThan(2000);
    });
  }

  it('plain */7 would have drifted: the gap at the hour is 4 minutes (why 7 minutes uses the due-check)', () => {
    process.env['TZ'] = 'UTC';
    const fired: number[] = [];
    let f = Date.UTC(2026, 0, 5, 9, 50);
    for (let i = 0; i < 4; i++) fired.push((f = nextCronTime('*/7 * * * *', f)));
    expect(gaps(fired).map((g) => g / MIN)).toEqual([4, 7, 7]);
  });

  it('every 3 days across the European spring-forward: gaps of 3 days give or take the lost hour, none skipped', () => {
    process.env['TZ'] = 'Europe/London';
    const every = parseInterval('3', 'days').seconds;
    const passes = simulate(every, 30 * DAY, new Date(2026, 2, 10, 12, 0).getTime());
    expect(passes).toHaveLength(10);
    for (const g of gaps(passes)) expect(Math.abs(g - 3 * DAY)).toBeLessThanOrEqual(HOUR + 2000);
  });

  it('a firing missed while the machine was off is made up at the next firing', () => {
    const rule: DueRule = { every: 7 * 60, grid: 60 };
    const last = Date.UTC(2026, 0, 5, 10, 0, 1);
    expect(isDue(rule, last + 6 * MIN, last)).toBe(false);
    expect(isDue(rule, last + 7 * MIN - 1000, last)).toBe(true);
    expect(isDue(rule, last + 3 * HOUR, last)).toBe(true);
  });

  it('plain schedules run at every firing', () => {
    expect(isDue({ every: 900 }, 0, 0)).toBe(true);
  });
});

describe('nextPassTime', () => {
  it('due-check: the first firing at least an interval after the last pass', () => {
    process.env['TZ'] = 'UTC';
    const t = cronTiming(420);
    const last = Date.UTC(2026, 0, 5, 10, 17, 1);
    const next = nextPassTime(t.rule, last + 1000, last, (a) => nextCronTime(t.expr, a));
    expect(next).toBe(Date.UTC(2026, 0, 5, 10, 24, 0));
    expect(nextPassTime(t.rule, last + 1000, undefined, (a) => nextCronTime(t.expr, a))).toBe(Date.UTC(2026, 0, 5, 10, 18, 0));
  });
  it('seconds: the next slot of the run going on in this minute, else the next firing', () => {
    const rule: DueRule = { every: 15 };
    const now = Date.UTC(2026, 0, 5, 10, 0, 20);
    const nextMinute = (a: number): number => Math.floor(a / MIN) * MIN + MIN;
    expect(nextPassTime(rule, now, undefined, nextMinute)).toBe(Date.UTC(2026, 0, 5, 10, 1, 0));
    expect(nextPassTime(rule, now, Date.UTC(2026, 0, 5, 9, 59, 45, 200), nextMinute)).toBe(Date.UTC(2026, 0, 5, 10, 1, 0));
    expect(nextPassTime(rule, now, Date.UTC(2026, 0, 5, 10, 0, 15, 200), nextMinute)).toBe(Date.UTC(2026, 0, 5, 10, 0, 30));
    expect(nextPassTime(rule, Date.UTC(2026, 0, 5, 10, 0, 50), Date.UTC(2026, 0, 5, 10, 0, 45, 200), nextMinute)).toBe(
      Date.UTC(2026, 0, 5, 10, 1, 0),
    );
  });
});

describe('slotsInMinute', () => {
  const m = Date.UTC(2026, 0, 5, 10, 0);
  const cases: [number, number[]][] = [
    [15, [0, 15, 30, 45]],
    [20, [0, 20, 40]],
    [7, [5, 12, 19, 26, 33, 40, 47, 54]], // 7 s slots count from the epoch: 8 of them start in this minute
    [90, [0]],
    [45, [0, 45]],
  ];
  for (const [every, seconds] of cases) {
    it(`${every} s`, () => expect(slotsInMinute(m, every).map((t) => (t - m) / 1000)).toEqual(seconds));
  }
  it('90 s: the next minute has none (its slot began in this one)', () => {
    expect(slotsInMinute(m + MIN, 90).map((t) => (t - m - MIN) / 1000)).toEqual([30]);
    expect(slotsInMinute(m + 2 * MIN, 90)).toEqual([]);
  });
});

/** A fake clock that advances when the runner sleeps and while a pass "runs". */
function fakeDeps(
  start: number,
  dir: string,
): { deps: { now: () => number; sleep: (ms: number) => Promise<void>; dir: string }; advance: (ms: number) => void } {
  let now = start;
  return {
    deps: { now: () => now, sleep: async (ms: number) => void (now += ms), dir },
    advance: (ms: number) => void (now += ms),
  };
}

function result(over: Partial<SyncResult> = {}): SyncResult {
  return { checked: 3, created: 1, updated: 2, removed: 0, failed: 0, skipped: 0, bytes: 42, durationMs: 100, exitCode: 0, ...over };
}

describe('runScheduled', () => {
  const run = (every: number, grid?: number, log?: string): ScheduledRun => ({
    job: 'j',
    rule: grid === undefined ? { every } : { every, grid },
    log,
    logFormat: 'text',
  });

  it('15 seconds: one invocation per minute runs 4 passes at :00 :15 :30 :45, then exits; 3 minutes -> 12 passes 15 s apart', async () => {
    const dir = tempDir();
    const { deps, advance } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0, 400), dir);
    const starts: number[] = [];
    const pass = async (hooks: PassHooks): Promise<number> => {
      starts.push(deps.now());
      advance(300);
      hooks.finished(result());
      return 0;
    };
    for (let minute = 0; minute < 3; minute++) {
      const code = await runScheduled(run(15), pass, deps);
      expect(code).toBe(0);
      expect(deps.now()).toBeLessThan(Date.UTC(2026, 0, 5, 10, minute + 1, 0));
      // cron starts the next invocation at the next minute, a little late
      advance(Date.UTC(2026, 0, 5, 10, minute + 1, 0, 400) - deps.now());
    }
    expect(starts).toHaveLength(12);
    expect(starts[0]).toBe(Date.UTC(2026, 0, 5, 10, 0, 0, 400)); // the :00 slot, run as soon as started
    for (const g of gaps(starts.slice(1, 4))) expect(g).toBe(15_000);
    const rec = readJobRecord('j', dir);
    expect(rec.last?.result).toBe('ok');
    expect(rec.last?.counts).toEqual({ created: 1, updated: 2, removed: 0, failed: 0, skipped: 0, bytes: 42 });
    expect(rec.lastCompleted?.startedAt).toBe(rec.last?.startedAt);
  });

  it('a pass that overruns its slot is followed by the next at once, never two at once, and none after the minute', async () => {
    const dir = tempDir();
    const { deps, advance } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0), dir);
    const starts: number[] = [];
    let running = 0;
    const code = await runScheduled(
      run(15),
      async (hooks) => {
        expect(running).toBe(0);
        running++;
        starts.push(deps.now() - Date.UTC(2026, 0, 5, 10, 0, 0));
        advance(20_000);
        hooks.finished(result());
        running--;
        return 0;
      },
      deps,
    );
    expect(code).toBe(0);
    expect(starts).toEqual([0, 20_000, 40_000]);
  });

  it('a busy replica stops the minute at once with 75 and is recorded as busy, not as a completed pass', async () => {
    const dir = tempDir();
    const { deps } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0), dir);
    let calls = 0;
    const code = await runScheduled(
      run(15),
      async (hooks) => {
        calls++;
        hooks.failed(new BusyError('another pass is running on /r'));
        return ExitCode.busy;
      },
      deps,
    );
    expect([code, calls]).toEqual([75, 1]);
    const rec = readJobRecord('j', dir);
    expect(rec.last?.result).toBe('busy');
    expect(rec.lastCompleted).toBeUndefined();
  });

  it('7 minutes on a 1-minute grid: invoked every minute for 30 minutes, passes at 0, 7, 14, 21, 28', async () => {
    const dir = tempDir();
    const t0 = Date.UTC(2026, 0, 5, 10, 53, 0);
    const { deps, advance } = fakeDeps(t0, dir);
    const starts: number[] = [];
    for (let m = 0; m < 30; m++) {
      advance(t0 + m * MIN + 500 - deps.now());
      await runScheduled(
        run(420, 60),
        async (hooks) => {
          starts.push(Math.round((deps.now() - t0) / MIN));
          hooks.finished(result());
          return 0;
        },
        deps,
      );
    }
    expect(starts).toEqual([0, 7, 14, 21, 28]);
  });

  it('a refusal thrown before the pass opened its log is written to the log once, recorded, exit 2', async () => {
    const dir = tempDir();
    const log = join(tempDir(), 'job.log');
    const { deps } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0), dir);
    const code = await runScheduled(
      run(60, undefined, log),
      async () => {
        throw new RefusedError('source folder does not exist: /gone');
      },
      deps,
    );
    expect(code).toBe(ExitCode.usage);
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ ERROR pass refused: source folder does not exist: \/gone$/);
    const rec = readJobRecord('j', dir);
    expect([rec.last?.result, rec.last?.message]).toEqual(['refused', 'source folder does not exist: /gone']);
  });

  it('an unexpected error is recorded and rethrown (the CLI prints it; cron appends it to the log)', async () => {
    const dir = tempDir();
    const { deps } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0), dir);
    await expect(
      runScheduled(
        run(60),
        async () => {
          throw new TypeError('boom');
        },
        deps,
      ),
    ).rejects.toThrow('boom');
    expect(readJobRecord('j', dir).last?.result).toBe('error');
  });

  it('an unwritable state folder refuses the pass before it starts, in the log', async () => {
    const log = join(tempDir(), 'job.log');
    const notAFolder = join(tempDir(), 'file');
    writeFileSync(notAFolder, 'x');
    const { deps } = fakeDeps(Date.UTC(2026, 0, 5, 10, 0, 0), join(notAFolder, 'state'));
    let ran = false;
    const code = await runScheduled(
      run(60, undefined, log),
      async () => {
        ran = true;
        return 0;
      },
      deps,
    );
    expect([code, ran]).toEqual([ExitCode.usage, false]);
    expect(readFileSync(log, 'utf8')).toMatch(/pass refused: the state folder .* cannot be written/);
  });
});

describe('scheduledRunFromArgs', () => {
  it('reads --job/--every/--grid and refuses bad values', () => {
    expect(scheduledRunFromArgs({})).toBeUndefined();
    expect(scheduledRunFromArgs({ job: 'a', every: '420', grid: '60', log: '/l', 'log-format': 'json' })).toEqual({
      job: 'a',
      rule: { every: 420, grid: 60 },
      log: '/l',
      logFormat: 'json',
    });
    for (const bad of [
      { every: '60' },
      { job: 'a' },
      { job: '*', every: '60' },
      { job: 'a', every: '0' },
      { job: 'a', every: '1.5' },
      { job: 'a', every: '420', grid: '120' },
      { job: 'a', every: '90', grid: '30' },
    ]) {
      expect(() => scheduledRunFromArgs(bad)).toThrow();
    }
  });
});

describe('overdueWarning', () => {
  const now = Date.UTC(2026, 0, 5, 12, 0);
  it('warns after twice the interval without a completed pass (at least two minutes)', () => {
    expect(overdueWarning(420, now - 14 * MIN, now, 'every 7 minutes')).toBeUndefined();
    expect(overdueWarning(420, now - 15 * MIN, now, 'every 7 minutes')).toMatch(/^overdue: no completed pass for 15 minutes/);
    expect(overdueWarning(15, now - 100_000, now, 'every 15 seconds')).toBeUndefined();
    expect(overdueWarning(15, now - 121_000, now, 'every 15 seconds')).toMatch(/overdue/);
    expect(overdueWarning(60, undefined, now, 'every minute')).toBeUndefined();
  });
});
