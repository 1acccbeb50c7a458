import { resolve } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { BusyError, describeError, ExitCode, FolderSyncError, RefusedError } from '../errors.js';
import { emit, quotePath } from '../log.js';
import type { Interval } from '../schedule/interval.js';
import type { PassRecord, PassResult as RecordResult } from '../schedule/record.js';
import { stateDir } from '../state.js';
import { checkPassPaths } from '../sync/path-guards.js';
import { readLock, ReplicaLock } from '../sync/lock.js';
import type { SyncStats } from '../sync/pass-stats.js';
import { syncOnce, type SyncOptions } from '../sync/sync-once.js';
import { runLoop, systemClock, type LoopClock } from './loop.js';
import { writeRunRecord, type RunRecord } from './record.js';

export interface RunOptions {
  /** How often a pass starts (from the start of the previous one). */
  interval: Pick<Interval, 'seconds' | 'words'>;
  logger: ConsolaInstance;
  /** Aborting it stops the loop: the current pass stops between files, no other starts. Its reason names it. */
  signal: AbortSignal;
  /** The sync-once options each pass gets (never `lock`: the run holds the lock; never `dryRun`). */
  sync?: Pick<SyncOptions, 'checksum' | 'maxDelete' | 'allowEmptySource' | 'filter' | 'deleteExcluded' | 'versions'>;
  /** Called before every pass (a returned promise is awaited) (the command retries a log file that stopped being writable, pings). */
  beforePass?: () => unknown;
  /** Called after every pass (a returned promise is awaited) with its outcome (the command flushes the log, notifies). */
  afterPass?: (outcome: PassOutcome) => unknown;
  /** The log file's path, recorded in the lock so that `folder-sync list` can show it. */
  log?: string;
  /** Tests: a fake clock, a pass limit, another state folder for the lock. */
  clock?: LoopClock;
  maxPasses?: number;
  stateDir?: string;
}

export type PassResult = 'complete' | 'partial' | 'interrupted' | 'refused' | 'error';

export interface PassOutcome {
  index: number;
  startedAt: Date;
  durationMs: number;
  /**
   * complete (exit 0), partial (some entries failed: exit 1), interrupted (stopped between files by the signal),
   * refused (a guard: nothing changed), error (anything else).
   */
  result: PassResult;
  /** Counts of a pass that ran (complete or partial). */
  stats?: SyncStats;
  /** The one-line reason of a refused or failed pass, or why a pass stopped early. */
  message?: string;
  /** A refused pass found the replica busy (another pass holds its lock: exit 75 for the notifications). */
  busy?: boolean;
}

const asRecord: Record<PassResult, [RecordResult, ExitCode]> = {
  complete: ['ok', ExitCode.ok],
  partial: ['partial', ExitCode.partial],
  interrupted: ['partial', ExitCode.partial],
  refused: ['refused', ExitCode.usage],
  error: ['error', ExitCode.partial],
};

/** A pass of a run as a PassRecord (the shape `list` already shows for scheduled jobs). */
export function passRecordOf(outcome: PassOutcome): PassRecord {
  const [result, exitCode] = asRecord[outcome.result];
  const record: PassRecord = {
    startedAt: outcome.startedAt.toISOString(),
    finishedAt: new Date(outcome.startedAt.getTime() + outcome.durationMs).toISOString(),
    result,
    exitCode,
    pid: process.pid,
    durationMs: Math.round(outcome.durationMs),
  };
  if (outcome.stats) {
    const { created, updated, removed, failed, skipped, bytes } = outcome.stats;
    record.counts = { created, updated, removed, failed, skipped, bytes };
  }
  if (outcome.message) record.message = outcome.message;
  return record;
}

export interface RunSummary {
  passes: number;
  counts: Record<PassResult, number>;
}

/** A `run` line: plain text in a text log, a `note` object with `extra` fields in JSON Lines. */
export function note(log: ConsolaInstance, level: 'info' | 'warn' | 'error' | 'debug', message: string, extra = {}): void {
  emit(log, level, { type: 'note', message, ...extra });
}

/**
 * `folder-sync run`: hold the replica's lock for the whole life of the process and run one pass now, then one
 * every interval, until `signal` is aborted. A pass that fails or is refused is logged and the loop goes on;
 * nothing is ever "fixed" by deleting. Throws only before the first pass: RefusedError when the paths can never
 * work (same checks as sync-once), BusyError when another pass or run holds the replica.
 */
export async function runForeground(source: string, replica: string, opts: RunOptions): Promise<RunSummary> {
  const log = opts.logger;
  const paths = checkPassPaths(source, replica);
  // Mode 'run' and the source and log in the lock record: `folder-sync list` shows it as a foreground run.
  const dir = opts.stateDir ?? stateDir();
  const lock = new ReplicaLock(paths.replica, 'run', dir, { source: paths.source, log: opts.log });
  lock.acquire();
  const record: RunRecord = {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    source: paths.source,
    replica: paths.replica,
    ...(opts.log ? { log: opts.log } : {}),
    everySeconds: opts.interval.seconds,
    every: opts.interval.words,
    passes: 0,
  };
  let recordFailed = false;
  const counts: Record<PassResult, number> = { complete: 0, partial: 0, interrupted: 0, refused: 0, error: 0 };
  let passes = 0;
  let ended = 'pass limit reached';
  try {
    note(
      log,
      'info',
      `run started (pid ${process.pid}): ${opts.interval.words}, source ${quotePath(paths.source)} replica ${quotePath(paths.replica)}`,
      {
        run: 'started',
        pid: process.pid,
        intervalSeconds: opts.interval.seconds,
        source: paths.source,
        replica: paths.replica,
      },
    );
    // Each pass resolves the paths again (a source may be unmounted and remounted); the lock is on the first answer.
    const sourceAbs = resolve(source);
    const replicaAbs = resolve(replica);
    await runLoop({
      intervalMs: opts.interval.seconds * 1000,
      clock: opts.clock ?? systemClock,
      signal: opts.signal,
      maxPasses: opts.maxPasses,
      onWait: (ms) => note(log, 'debug', `next pass in ${(ms / 1000).toFixed(1)}s`),
      pass: async (index) => {
        await opts.beforePass?.();
        const outcome = await onePass(index, sourceAbs, replicaAbs, lock, opts);
        passes = index;
        counts[outcome.result]++;
        // The last-pass record for `list`; a state folder that cannot be written is said once, passes go on.
        record.passes = index;
        record.last = passRecordOf(outcome);
        if (outcome.result === 'complete' || outcome.result === 'partial') record.lastCompleted = record.last;
        try {
          writeRunRecord(record, dir);
          recordFailed = false;
        } catch (error) {
          if (!recordFailed) note(log, 'warn', `the run record in ${dir} cannot be written: ${describeError(error)}`);
          recordFailed = true;
        }
        await opts.afterPass?.(outcome);
      },
    });
  } catch (error) {
    ended = `error: ${describeError(error)}`; // a hook of an embedding caller threw; passes themselves never do
    throw error;
  } finally {
    const reason = typeof opts.signal.reason === 'string' ? opts.signal.reason : opts.signal.aborted ? 'stop requested' : ended;
    note(
      log,
      'info',
      `run stopped (${reason}) after ${passes} ${passes === 1 ? 'pass' : 'passes'}: ${counts.complete} complete, ` +
        `${counts.partial} with failures, ${counts.interrupted} interrupted, ${counts.refused} refused, ` +
        `${counts.error} failed`,
      { run: 'stopped', reason, passes, ...counts },
    );
    lock.release();
  }
  return { passes, counts };
}

/**
 * The lock file can vanish under a run that lives for weeks (a tmp cleaner, a hand-cleaned state folder): take it
 * again before the pass. If another pass took it meanwhile, this throws BusyError and this pass is skipped.
 */
function keepLock(lock: ReplicaLock, log: ConsolaInstance): void {
  if (readLock(lock.path)?.pid === process.pid) return;
  lock.acquire();
  note(log, 'warn', `the replica's lock file had disappeared; took it again: ${lock.path}`);
}

async function onePass(index: number, source: string, replica: string, lock: ReplicaLock, opts: RunOptions): Promise<PassOutcome> {
  const log = opts.logger;
  const startedAt = new Date();
  const t0 = performance.now();
  const done = (result: PassResult, extra: Partial<PassOutcome> = {}): PassOutcome => ({
    index,
    startedAt,
    durationMs: performance.now() - t0,
    result,
    ...extra,
  });
  try {
    const now = checkPassPaths(source, replica).replica;
    if (now !== lock.replica) {
      throw new RefusedError(`the replica now resolves to ${now}, not ${lock.replica} as when the run started (and took its lock)`);
    }
    keepLock(lock, log);
    const result = await syncOnce(source, replica, { ...opts.sync, lock: false, signal: opts.signal, logger: log });
    const { durationMs: _d, exitCode, stoppedBy, ...stats } = result;
    if (stoppedBy && opts.signal.aborted && stats.failed === 0) return done('interrupted', { stats, message: stoppedBy });
    if (exitCode !== 0) note(log, 'warn', `pass ${index} finished with failures (see above); the next pass tries again`);
    return done(exitCode === 0 ? 'complete' : 'partial', { stats, ...(stoppedBy ? { message: stoppedBy } : {}) });
  } catch (error) {
    if (error instanceof RefusedError || error instanceof BusyError) {
      note(log, 'error', `pass ${index} refused: ${error.message}; nothing was changed, retrying ${opts.interval.words}`);
      return done('refused', { message: error.message, ...(error instanceof BusyError ? { busy: true } : {}) });
    }
    const message = error instanceof FolderSyncError ? error.message : describeError(error);
    note(log, 'error', `pass ${index} failed: ${message}; retrying ${opts.interval.words}`);
    return done('error', { message });
  }
}
