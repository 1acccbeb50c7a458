/** The timing of `folder-sync run` (src/run/loop.ts), driven by a fake clock: no real waiting. */
import { describe, expect, it } from 'vitest';
import { MAX_SLEEP_MS, msUntilDue, runLoop, systemClock, type Instant, type LoopClock } from '../src/run/loop.js';

const S = 1000;
const HOUR = 3600 * S;
const WEEK = 7 * 24 * HOUR;

/** A clock that only moves when told: by a pass's duration, or by a sleep (all of it, unless aborted). */
class FakeClock implements LoopClock {
  mono = 5_000;
  wall = Date.UTC(2026, 0, 1);
  readonly sleeps: number[] = [];
  /** Runs after every sleep, e.g. to simulate a suspend or a wall-clock change. */
  afterSleep?: (index: number) => void;
  now(): Instant {
    return { mono: this.mono, wall: this.wall };
  }
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    this.sleeps.push(ms);
    this.advance(ms);
    this.afterSleep?.(this.sleeps.length);
  }
}

/** Run the loop with passes of the given durations; returns each pass's start on the monotonic clock (from 0). */
async function startsFor(intervalMs: number, durations: number[], clock = new FakeClock()): Promise<number[]> {
  const origin = clock.mono;
  const starts: number[] = [];
  const n = await runLoop({
    intervalMs,
    clock,
    signal: new AbortController().signal,
    maxPasses: durations.length,
    pass: async (i) => {
      starts.push(clock.mono - origin);
      clock.advance(durations[i - 1] ?? 0);
    },
  });
  expect(n).toBe(durations.length);
  return starts;
}

describe('run loop timing', () => {
  const cases: { name: string; interval: number; durations: number[]; starts: number[] }[] = [
    {
      name: 'first pass at once, then every interval from the start of the previous pass',
      interval: 10 * S,
      durations: [1 * S, 2 * S, 3 * S, 0],
      starts: [0, 10 * S, 20 * S, 30 * S],
    },
    {
      name: 'a pass lasting exactly the interval is followed at once',
      interval: 10 * S,
      durations: [10 * S, 10 * S, 0],
      starts: [0, 10 * S, 20 * S],
    },
    {
      name: 'an overrunning pass is followed at once, and the spacing restarts from that pass',
      interval: 10 * S,
      durations: [25 * S, 1 * S, 1 * S],
      starts: [0, 25 * S, 35 * S],
    },
    { name: 'mixed short and long passes', interval: 10 * S, durations: [3 * S, 12 * S, 0, 9_999], starts: [0, 10 * S, 22 * S, 32 * S] },
    { name: 'one-second interval with instant passes', interval: 1 * S, durations: [0, 0, 0, 0, 0], starts: [0, S, 2 * S, 3 * S, 4 * S] },
    { name: 'an interval longer than setTimeout allows (5 weeks)', interval: 5 * WEEK, durations: [HOUR, 0, 0], starts: [0, 5 * WEEK, 10 * WEEK] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      expect(await startsFor(c.interval, c.durations)).toEqual(c.starts);
    });
  }

  it('waits in slices of at most a minute, and reports the whole wait once per gap', async () => {
    const clock = new FakeClock();
    const waits: [number, number][] = [];
    await runLoop({
      intervalMs: 3 * HOUR,
      clock,
      signal: new AbortController().signal,
      maxPasses: 2,
      pass: async () => clock.advance(30 * S),
      onWait: (ms, i) => waits.push([ms, i]),
    });
    expect(waits).toEqual([[3 * HOUR - 30 * S, 1]]);
    expect(Math.max(...clock.sleeps)).toBe(MAX_SLEEP_MS);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(3 * HOUR - 30 * S);
  });

  it('no wait is reported when the next pass is due at once', async () => {
    const clock = new FakeClock();
    const waits: number[] = [];
    await runLoop({
      intervalMs: 10 * S,
      clock,
      signal: new AbortController().signal,
      maxPasses: 3,
      pass: async () => clock.advance(11 * S),
      onWait: (ms) => waits.push(ms),
    });
    expect(waits).toEqual([]);
    expect(clock.sleeps).toEqual([]);
  });

  it('after a suspend (monotonic clock stood still, wall clock went on) the overdue pass runs on waking', async () => {
    const clock = new FakeClock();
    // The first slice of the wait: the machine sleeps for 2 hours; timers and the monotonic clock do not see it.
    clock.afterSleep = (i) => {
      if (i === 1) clock.wall += 2 * HOUR;
    };
    const starts: Instant[] = [];
    await runLoop({
      intervalMs: HOUR,
      clock,
      signal: new AbortController().signal,
      maxPasses: 2,
      pass: async () => {
        starts.push(clock.now());
      },
    });
    const [first, second] = starts as [Instant, Instant];
    expect(second.mono - first.mono).toBe(MAX_SLEEP_MS); // right after the first slice, not an hour later
    expect(second.wall - first.wall).toBeGreaterThanOrEqual(HOUR);
  });

  it('a wall clock set back does not delay the next pass', async () => {
    const clock = new FakeClock();
    clock.afterSleep = (i) => {
      if (i === 1) clock.wall -= 24 * HOUR;
    };
    expect(await startsFor(10 * MAX_SLEEP_MS, [0, 0], clock)).toEqual([0, 10 * MAX_SLEEP_MS]);
  });

  it('never runs two passes at once', async () => {
    let running = 0;
    let most = 0;
    const clock = new FakeClock();
    await runLoop({
      intervalMs: 5,
      clock,
      signal: new AbortController().signal,
      maxPasses: 200,
      pass: async (i) => {
        running++;
        most = Math.max(most, running);
        // Passes that overrun the interval by varying amounts, with real asynchronous gaps inside.
        await new Promise((r) => setImmediate(r));
        clock.advance(i % 3 === 0 ? 12 : 1);
        await Promise.resolve();
        running--;
      },
    });
    expect(most).toBe(1);
  });

  it('an abort during a pass lets that pass end and starts no other', async () => {
    const controller = new AbortController();
    const clock = new FakeClock();
    let passes = 0;
    const n = await runLoop({
      intervalMs: S,
      clock,
      signal: controller.signal,
      pass: async (i) => {
        passes++;
        if (i === 3) controller.abort('SIGTERM');
      },
    });
    expect(n).toBe(3);
    expect(passes).toBe(3);
  });

  it('an abort during the wait ends it at once (real clock, one-hour interval)', async () => {
    const controller = new AbortController();
    // The real clock, aborted once its hour-long sleep has begun: the loop can only return if the abort ends it.
    const clock: LoopClock = {
      now: systemClock.now,
      sleep: (ms, signal) => {
        const sleeping = systemClock.sleep(ms, signal);
        setImmediate(() => controller.abort('SIGINT'));
        return sleeping;
      },
    };
    expect(await runLoop({ intervalMs: HOUR, clock, signal: controller.signal, pass: async () => {} })).toBe(1);
  });

  it('the real clock sleeps about as long as asked', async () => {
    const t0 = performance.now();
    await systemClock.sleep(120, new AbortController().signal);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('a pass that throws ends the loop with that error', async () => {
    const clock = new FakeClock();
    await expect(
      runLoop({
        intervalMs: S,
        clock,
        signal: new AbortController().signal,
        pass: async (i) => {
          if (i === 2) throw new Error('boom');
        },
      }),
    ).rejects.toThrow('boom');
  });

  it('refuses an interval that is not positive', async () => {
    for (const intervalMs of [0, -1, Number.NaN]) {
      await expect(runLoop({ intervalMs, clock: new FakeClock(), signal: new AbortController().signal, pass: async () => {} })).rejects.toThrow(
        RangeError,
      );
    }
  });

  const due: { name: string; start: Instant; now: Instant; ms: number }[] = [
    { name: 'half way', start: { mono: 0, wall: 0 }, now: { mono: 500, wall: 500 }, ms: 500 },
    { name: 'overdue', start: { mono: 0, wall: 0 }, now: { mono: 1500, wall: 1500 }, ms: 0 },
    { name: 'suspended: wall says due', start: { mono: 0, wall: 0 }, now: { mono: 10, wall: 5000 }, ms: 0 },
    { name: 'wall set back: monotonic decides', start: { mono: 0, wall: 10_000 }, now: { mono: 300, wall: 0 }, ms: 700 },
    { name: 'wall set forward: at most one early pass', start: { mono: 0, wall: 0 }, now: { mono: 100, wall: 900 }, ms: 100 },
  ];
  for (const c of due) {
    it(`msUntilDue: ${c.name}`, () => {
      expect(msUntilDue(c.start, c.now, 1000)).toBe(c.ms);
    });
  }
});
