/**
 * What `sync-once --job <name> --every <s> [--grid <s>]` does when the OS scheduler starts it: decide whether a
 * pass is due (intervals the scheduler cannot express), run the passes of this minute at the requested spacing
 * (seconds intervals), and keep the job's last-pass record. The pass itself is sync-once's own code path.
 */
import { BusyError, describeError, ExitCode, FolderSyncError, RefusedError, UsageError } from '../errors.js';
import type { LogFormat } from '../log.js';
import { logRefusal, refusalLine } from '../pass-log.js';
import type { SyncResult } from '../sync/sync-once.js';
import { stateDir } from '../state.js';
import { isDue, minuteStart, runMode, type DueRule } from './due.js';
import { JOB_NAME } from './cron.js';
import { MAX_INTERVAL_SECONDS } from './interval.js';
import { readJobRecord, writeJobRecord, type JobRecord, type PassRecord } from './record.js';

export interface ScheduledRun {
  job: string;
  rule: DueRule;
  /** The job's log file and format, for the lines this module writes itself (a refusal before the log opened). */
  log?: string;
  logFormat: LogFormat;
  /** Notifications around each pass (src/notify/pass.ts): a start ping before, the end ping and hook after. */
  around?: PassAround;
}

/** Called around every pass attempt of a scheduled run; never throws. */
export interface PassAround {
  started(): Promise<void>;
  /** With the attempt's stored outcome, once it is in the job's record. */
  ended(outcome: PassRecord): Promise<void>;
}

/** What one pass reports back while it runs sync-once's code path. */
export interface PassHooks {
  /** The pass ran (completely or with failed entries). */
  finished(result: SyncResult): void;
  /** The pass was refused or skipped, and the line is already in the log file. */
  failed(error: FolderSyncError): void;
}

/** One pass: resolves to its exit code; throws what it did not log. */
export type ScheduledPass = (hooks: PassHooks) => Promise<number>;

export interface ScheduledDeps {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  dir: string;
}

const realDeps = (): ScheduledDeps => ({
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  dir: stateDir(),
});

function wholeSeconds(value: unknown, flag: string): number {
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_INTERVAL_SECONDS) {
    throw new UsageError(`${flag} needs a whole number of seconds from 1 to ${MAX_INTERVAL_SECONDS}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** The hidden scheduler flags of sync-once, checked; undefined when `--job` is absent (a manual pass). */
export function scheduledRunFromArgs(args: Record<string, unknown>): ScheduledRun | undefined {
  const job = args['job'];
  if (job === undefined) {
    if (args['every'] !== undefined || args['grid'] !== undefined) throw new UsageError('--every and --grid need --job');
    return undefined;
  }
  if (typeof job !== 'string' || !JOB_NAME.test(job)) throw new UsageError(`--job needs a job name, got ${JSON.stringify(String(job))}`);
  if (args['every'] === undefined) throw new UsageError('--job needs --every <seconds>');
  const every = wholeSeconds(args['every'], '--every');
  const rule: DueRule = { every };
  if (args['grid'] !== undefined) {
    const grid = wholeSeconds(args['grid'], '--grid');
    if (every % grid !== 0 || every % 60 !== 0) throw new UsageError(`--grid ${grid} must divide --every ${every} (whole minutes)`);
    rule.grid = grid;
  }
  const log = typeof args['log'] === 'string' ? args['log'] : undefined;
  return { job, rule, log, logFormat: args['log-format'] === 'json' ? 'json' : 'text' };
}

/**
 * Run a scheduled invocation: nothing when not due, one pass, or (seconds intervals) every slot that starts
 * within the current minute. Returns the exit code of the last pass (0 when none was due).
 */
export async function runScheduled(run: ScheduledRun, pass: ScheduledPass, deps: ScheduledDeps = realDeps()): Promise<number> {
  const mode = runMode(run.rule);
  const lastStart = (): number | undefined => {
    const started = readJobRecord(run.job, deps.dir).last?.startedAt;
    return started === undefined ? undefined : Date.parse(started);
  };

  if (mode !== 'seconds-loop') {
    if (!isDue(run.rule, deps.now(), lastStart())) return ExitCode.ok;
    return runOne(run, pass, deps);
  }

  const step = run.rule.every * 1000;
  const windowStart = minuteStart(deps.now());
  const windowEnd = windowStart + 60_000;
  let code: number = ExitCode.ok;
  for (;;) {
    const now = deps.now();
    const slot = Math.floor(now / step);
    const last = lastStart();
    const slotRun = last !== undefined && Math.floor(last / step) >= slot;
    if (now >= windowEnd) return code; // the next minute's run owns what comes now
    // A slot that began before this minute belongs to the previous run (90 s intervals and the like).
    if (!slotRun && slot * step >= windowStart) {
      code = await runOne(run, pass, deps);
      if (code === ExitCode.busy || code === ExitCode.usage) return code; // the next passes would only repeat it
      continue;
    }
    const next = (slot + 1) * step;
    if (next >= windowEnd) return code;
    await deps.sleep(next - now);
  }
}

async function runOne(run: ScheduledRun, pass: ScheduledPass, deps: ScheduledDeps): Promise<number> {
  const record: JobRecord = readJobRecord(run.job, deps.dir);
  const attempt: PassRecord = { startedAt: new Date(deps.now()).toISOString(), result: 'running', pid: process.pid };
  await run.around?.started();
  try {
    // Claim the slot before the pass, so a long pass is not started again by the next firing.
    writeJobRecord({ ...record, last: attempt }, deps.dir);
  } catch (error) {
    const line = `pass refused: the state folder ${deps.dir} cannot be written: ${describeError(error)}`;
    logRefusal({ path: run.log, format: run.logFormat }, line);
    await run.around?.ended({ ...attempt, result: 'refused', exitCode: ExitCode.usage, message: line });
    return ExitCode.usage;
  }

  let result: SyncResult | undefined;
  let failure: FolderSyncError | undefined;
  let code: number;
  try {
    code = await pass({
      finished: (r) => (result = r),
      failed: (e) => (failure = e),
    });
  } catch (error) {
    if (!(error instanceof FolderSyncError)) {
      finish(run, deps, attempt, { result: 'error', exitCode: ExitCode.partial, message: describeError(error) });
      throw error; // a bug: the CLI prints it to stderr, which the job's redirection appends to the log
    }
    // Thrown before the pass opened its log (a guard, an unwritable log): the line goes to the log here.
    logRefusal({ path: run.log, format: run.logFormat }, refusalLine(error));
    failure = error;
    code = error.exitCode;
  }

  const finishedAt = new Date(deps.now()).toISOString();
  let ended: PassRecord;
  if (result) {
    const { created, updated, removed, failed, skipped, bytes } = result;
    const outcome: PassRecord = {
      ...attempt,
      finishedAt,
      result: code === ExitCode.logFailed ? 'log-failed' : result.exitCode === ExitCode.ok ? 'ok' : 'partial',
      exitCode: code,
      counts: { created, updated, removed, failed, skipped, bytes },
      durationMs: Math.round(result.durationMs),
      ...(result.stoppedBy ? { message: `stopped: ${result.stoppedBy}` } : {}),
      ...(result.replicaFs ? { replicaFs: result.replicaFs } : {}),
    };
    ended = finish(run, deps, attempt, outcome, true);
  } else {
    const kind = failure instanceof BusyError ? 'busy' : failure instanceof RefusedError || failure instanceof UsageError ? 'refused' : 'error';
    ended = finish(run, deps, attempt, { finishedAt, result: kind, exitCode: code, ...(failure ? { message: failure.message } : {}) });
  }
  await run.around?.ended(ended);
  return code;
}

/** Store the outcome of an attempt; a state folder that failed after the pass is reported, not fatal. */
function finish(run: ScheduledRun, deps: ScheduledDeps, attempt: PassRecord, outcome: Partial<PassRecord>, completed = false): PassRecord {
  const record = readJobRecord(run.job, deps.dir);
  const done: PassRecord = { ...attempt, finishedAt: new Date(deps.now()).toISOString(), ...outcome };
  // The last pass that ended with exit 0: what `folder-sync check` measures the job's age by.
  const success = done.result === 'ok' && done.exitCode === ExitCode.ok ? { lastSuccess: done } : {};
  try {
    writeJobRecord({ ...record, last: done, ...(completed ? { lastCompleted: done } : {}), ...success }, deps.dir);
  } catch (error) {
    logRefusal({ path: run.log, format: run.logFormat }, `the last-pass record in ${deps.dir} cannot be written: ${describeError(error)}`);
  }
  return done;
}
