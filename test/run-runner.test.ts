/**
 * runForeground in process (src/run/runner.ts): real folders and the real engine, a fake clock, a captured log.
 * The source is changed between passes from the afterPass hook, as a user or a failing disk would.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConsolaReporter, LogObject } from 'consola';
import { describe, expect, it } from 'vitest';
import { BusyError, RefusedError } from '../src/errors.js';
import { createLogger, formatEvent, type LogEvent } from '../src/log.js';
import type { LoopClock } from '../src/run/loop.js';
import { readRunRecord } from '../src/run/record.js';
import { runForeground, type PassOutcome, type RunOptions } from '../src/run/runner.js';
import { lockPath, readLock, ReplicaLock } from '../src/sync/lock.js';
import { buildTree, compareTrees, tempDir } from './_tree.js';

function capture(): { lines: string[]; reporter: ConsolaReporter } {
  const lines: string[] = [];
  const level = (n: number): string => (n <= 0 ? 'ERROR' : n === 1 ? 'WARN' : n >= 4 ? 'DEBUG' : 'INFO');
  return {
    lines,
    reporter: {
      log(obj: LogObject) {
        const event = obj['event'] as LogEvent | undefined;
        lines.push(`${level(obj.level)} ${event ? formatEvent(event) : obj.args.join(' ')}`);
      },
    },
  };
}

const fakeClock = (): LoopClock => {
  let mono = 0;
  let wall = Date.UTC(2026, 0, 1);
  return {
    now: () => ({ mono, wall }),
    sleep: (ms) =>
      new Promise((r) => {
        mono += ms;
        wall += ms;
        setImmediate(r);
      }),
  };
};

/** Run `passes` passes; `between(i)` runs after pass i. Returns the outcomes and the log lines. */
async function runPasses(
  source: string,
  replica: string,
  passes: number,
  between: (index: number) => void = () => {},
  extra: Partial<RunOptions> = {},
): Promise<{ outcomes: PassOutcome[]; lines: string[]; stateDir: string }> {
  const { lines, reporter } = capture();
  const outcomes: PassOutcome[] = [];
  const stateDir = extra.stateDir ?? tempDir('fs-state-');
  await runForeground(source, replica, {
    interval: { seconds: 60, words: 'every minute' },
    logger: createLogger([reporter]),
    signal: new AbortController().signal,
    clock: fakeClock(),
    maxPasses: passes,
    stateDir,
    afterPass: (o) => {
      outcomes.push(o);
      between(o.index);
    },
    ...extra,
  });
  return { outcomes, lines, stateDir };
}

describe('runForeground', () => {
  it('complete, refused (empty source, missing source) and complete again; the replica is never emptied', async () => {
    const src = buildTree(tempDir(), { a: 'one', d: { b: 'two' } });
    const replica = join(tempDir(), 'replica');
    const away = tempDir();
    const { outcomes, lines, stateDir } = await runPasses(src, replica, 5, (i) => {
      if (i === 1) for (const n of ['a', 'd']) renameSync(join(src, n), join(away, n)); // looks unmounted
      if (i === 2) {
        expect(readdirSync(replica).sort()).toEqual(['a', 'd']); // the refused pass deleted nothing
        renameSync(src, `${src}.gone`);
      }
      if (i === 3) {
        renameSync(`${src}.gone`, src);
        for (const n of ['a', 'd']) renameSync(join(away, n), join(src, n));
        writeFileSync(join(src, 'c'), 'new');
      }
    });
    expect(outcomes.map((o) => o.result)).toEqual(['complete', 'refused', 'refused', 'complete', 'complete']);
    expect(outcomes[1]?.message).toMatch(/is empty but the replica .* is not; refusing to empty it/);
    expect(outcomes[2]?.message).toMatch(/source folder does not exist/);
    expect(lines.filter((l) => l.startsWith('ERROR pass '))).toEqual([
      expect.stringMatching(/^ERROR pass 2 refused: source .* is empty .*; nothing was changed, retrying every minute$/),
      expect.stringMatching(/^ERROR pass 3 refused: source folder does not exist: .*; nothing was changed, retrying every minute$/),
    ]);
    expect(compareTrees(src, replica)).toEqual([]);
    expect(lines.at(-1)).toBe(
      'INFO run stopped (pass limit reached) after 5 passes: 3 complete, 0 with failures, 0 interrupted, 2 refused, 0 failed',
    );

    // The record `list` can show: the last pass, the last completed one, the interval.
    const record = readRunRecord(replica, stateDir);
    expect(record).toMatchObject({ version: 1, pid: process.pid, source: src, replica, everySeconds: 60, every: 'every minute', passes: 5 });
    expect(record?.last).toMatchObject({ result: 'ok', exitCode: 0, counts: { created: 0, updated: 0, removed: 0, failed: 0 } });
  });

  it('records a refused last pass, with the last completed one kept apart', async () => {
    const src = buildTree(tempDir(), { a: 'one' });
    const replica = join(tempDir(), 'replica');
    const { stateDir } = await runPasses(src, replica, 2, (i) => {
      if (i === 1) rmSync(join(src, 'a'));
    });
    const record = readRunRecord(replica, stateDir);
    expect(record?.last).toMatchObject({ result: 'refused', exitCode: 2, message: expect.stringMatching(/is empty/) });
    expect(record?.lastCompleted).toMatchObject({ result: 'ok', counts: { created: 2, bytes: 3 } });
  });

  it('refuses a pass when the replica path now resolves elsewhere than the folder it locked', async () => {
    const base = tempDir();
    const first = join(base, 'first');
    mkdirSync(first);
    mkdirSync(join(base, 'second'));
    const src = buildTree(tempDir(), { a: 'one' });
    const replica = join(base, 'replica');
    symlinkSync(first, replica);
    const { outcomes } = await runPasses(src, replica, 2, () => {
      unlinkSync(replica);
      symlinkSync(join(base, 'second'), replica);
    });
    expect(outcomes.map((o) => o.result)).toEqual(['complete', 'refused']);
    expect(outcomes[1]?.message).toContain(`now resolves to ${join(base, 'second')}, not ${first}`);
    expect(readdirSync(join(base, 'second'))).toEqual([]);
  });

  it('throws before the first pass: paths that can never work (RefusedError), a held replica (BusyError)', async () => {
    const src = buildTree(tempDir(), { a: 'one' });
    await expect(runPasses(src, join(src, 'inside'), 1)).rejects.toThrow(RefusedError);
    const replica = join(tempDir(), 'replica');
    const stateDir = tempDir('fs-state-');
    const other = new ReplicaLock(replica, 'sync-once', stateDir);
    other.acquire();
    try {
      await expect(runPasses(src, replica, 1, () => {}, { stateDir })).rejects.toThrow(BusyError);
    } finally {
      other.release();
    }
    const { outcomes } = await runPasses(src, replica, 1, () => {}, { stateDir });
    expect(outcomes.map((o) => o.result)).toEqual(['complete']);
  });

  it('takes its lock again when the lock file vanished; skips a pass while another process holds it', async () => {
    const src = buildTree(tempDir(), { a: 'one' });
    const replica = join(tempDir(), 'replica');
    const stateDir = tempDir('fs-state-');
    const path = lockPath(replica, stateDir);
    const { outcomes, lines } = await runPasses(
      src,
      replica,
      4,
      (i) => {
        if (i === 1) unlinkSync(path); // a tmp cleaner
        if (i === 2) {
          // Another live process (our parent) took the replica meanwhile.
          expect(readLock(path)?.pid).toBe(process.pid);
          writeFileSync(path, JSON.stringify({ ...readLock(path), pid: process.ppid, procStart: undefined }));
        }
        if (i === 3) unlinkSync(path); // and released it
      },
      { stateDir },
    );
    expect(outcomes.map((o) => o.result)).toEqual(['complete', 'complete', 'refused', 'complete']);
    expect(lines).toContain(`WARN the replica's lock file had disappeared; took it again: ${path}`);
    expect(outcomes[2]?.message).toMatch(new RegExp(`another pass is running on .* \\(pid ${process.ppid}`));
    expect(existsSync(path)).toBe(false); // released at the end
  });

  it('a throwing hook ends the run with a closing line that says so, and the lock is released', async () => {
    const src = buildTree(tempDir(), { a: 'one' });
    const replica = join(tempDir(), 'replica');
    const stateDir = tempDir('fs-state-');
    const { lines, reporter } = capture();
    await expect(
      runForeground(src, replica, {
        interval: { seconds: 60, words: 'every minute' },
        logger: createLogger([reporter]),
        signal: new AbortController().signal,
        clock: fakeClock(),
        stateDir,
        afterPass: (o) => {
          if (o.index === 2) throw new Error('hook broke');
        },
      }),
    ).rejects.toThrow('hook broke');
    expect(lines.at(-1)).toBe('INFO run stopped (error: hook broke) after 2 passes: 2 complete, 0 with failures, 0 interrupted, 0 refused, 0 failed');
    const next = new ReplicaLock(replica, 'sync-once', stateDir);
    next.acquire(); // would throw BusyError if the run had kept it
    next.release();
  });

  it('an abort during a pass stops it between files and starts no other', async () => {
    const src = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`f${i}`, 'x'.repeat(100)])));
    const replica = join(tempDir(), 'replica');
    const controller = new AbortController();
    const { lines } = capture();
    const outcomes: PassOutcome[] = [];
    // Abort from inside the pass, after a few files: what a signal handler does between two files.
    let created = 0;
    const reporter: ConsolaReporter = {
      log(obj) {
        const event = obj['event'] as LogEvent | undefined;
        if (event) lines.push(formatEvent(event));
        if (event?.type === 'op' && event.action === 'created' && ++created === 10) controller.abort('SIGTERM');
      },
    };
    const summary = await runForeground(src, replica, {
      interval: { seconds: 1, words: 'every second' },
      logger: createLogger([reporter]),
      signal: controller.signal,
      clock: fakeClock(),
      stateDir: tempDir('fs-state-'),
      afterPass: (o) => outcomes.push(o),
    });
    expect(summary.passes).toBe(1);
    expect(outcomes[0]?.result).toBe('interrupted');
    const copied = readdirSync(replica);
    expect(copied.length).toBeGreaterThanOrEqual(9);
    expect(copied.length).toBeLessThan(400);
    expect(copied.filter((n) => n.startsWith('.folder-sync-partial-'))).toEqual([]);
    expect(lines).toContain('pass stopped: the pass was interrupted');
    expect(lines.at(-1)).toMatch(/^run stopped \(SIGTERM\) after 1 pass: 0 complete, 0 with failures, 1 interrupted/);
  });
});
