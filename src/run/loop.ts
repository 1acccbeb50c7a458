/**
 * The timing of `folder-sync run`, free of I/O: the first pass at once, then one every interval measured from
 * the START of the previous pass; a pass that overran is followed by the next at once, never by two at once.
 * The clock is injected, so tests drive thousands of iterations with a fake one.
 */

/** A moment on both clocks `run` looks at. */
export interface Instant {
  /** Monotonic milliseconds (never jumps when the wall clock is set; stands still while the machine sleeps). */
  mono: number;
  /** Wall-clock milliseconds since the epoch (keeps counting across a suspend; may be set back or forward). */
  wall: number;
}

export interface LoopClock {
  now(): Instant;
  /** Wait `ms` milliseconds, or less when `signal` is aborted; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/**
 * Longest single wait. Timers stand still while a laptop or WSL host is suspended; waking up at least this
 * often lets the wall clock notice a pass that fell due during the suspend. (Also well under setTimeout's
 * 24.8-day limit, so "every 5 weeks" waits correctly.)
 */
export const MAX_SLEEP_MS = 60_000;

/**
 * Milliseconds until the next pass is due (0: due now), for a pass that started at `start`.
 * Either clock may say "due": the monotonic one normally, the wall clock after a suspend. A wall clock set
 * backwards (elapsed < 0) says nothing; one set forwards can bring one pass early, never skip one.
 */
export function msUntilDue(start: Instant, now: Instant, intervalMs: number): number {
  const byMono = start.mono + intervalMs - now.mono;
  const wallElapsed = now.wall - start.wall;
  const byWall = wallElapsed >= 0 ? intervalMs - wallElapsed : Infinity;
  return Math.max(0, Math.min(byMono, byWall));
}

export interface LoopOptions {
  intervalMs: number;
  clock: LoopClock;
  /** Stops the loop: no further pass starts, and a wait ends at once. */
  signal: AbortSignal;
  /** One pass (numbered from 1); its own errors are its business, a throw ends the loop. */
  pass(index: number): Promise<void>;
  /** Told how long the loop is about to wait after pass `index` (not called when the next pass is due at once). */
  onWait?(ms: number, index: number): void;
  /** Stop after this many passes (tests and measurements); default: until aborted. */
  maxPasses?: number;
}

/** Run passes until aborted (or `maxPasses`); returns how many passes ran. */
export async function runLoop(opts: LoopOptions): Promise<number> {
  const { intervalMs, clock, signal } = opts;
  if (!(intervalMs > 0)) throw new RangeError(`interval must be positive, got ${intervalMs}`);
  let passes = 0;
  while (!signal.aborted && (opts.maxPasses === undefined || passes < opts.maxPasses)) {
    const start = clock.now();
    await opts.pass(passes + 1);
    passes++;
    if (signal.aborted || passes === opts.maxPasses) break;
    let wait = msUntilDue(start, clock.now(), intervalMs);
    if (wait > 0) opts.onWait?.(wait, passes);
    while (wait > 0 && !signal.aborted) {
      await clock.sleep(Math.min(wait, MAX_SLEEP_MS), signal);
      wait = msUntilDue(start, clock.now(), intervalMs);
    }
  }
  return passes;
}

/** The real clock: performance.now() and Date.now(), and a timer that an abort cuts short. */
export const systemClock: LoopClock = {
  now: () => ({ mono: performance.now(), wall: Date.now() }),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};
