/**
 * Notifications around sync-once's pass: a manual pass (flags on the command line) and a scheduled one (the
 * job's stored settings, plus any flags on its line). Lines go to the pass's log file, opened for appending
 * only while they are written, and for a manual pass to the console too.
 */
import { resolve } from 'node:path';
import type { ConsolaInstance, ConsolaReporter, LogObject } from 'consola';
import { describeError, ExitCode, FolderSyncError } from '../errors.js';
import { ConsoleReporter, createLogger, FileReporter, type LogFormat } from '../log.js';
import { isInside, resolveEventual } from '../sync/path-identity.js';
import { readJobRecord, writeJobRecord, type PassRecord } from '../schedule/record.js';
import type { PassOutcome } from '../run/runner.js';
import type { PassAround } from '../schedule/scheduled-run.js';
import { PassNotifier, type NotificationRecord, type PassEnd } from './notifier.js';
import { mergeSettings, notifySettingsFromArgs, readJobNotify } from './settings.js';

interface LogTarget {
  path?: string;
  format: LogFormat;
  /** Also on the console (a manual pass); a scheduled pass's console output is appended to the log already. */
  console?: ConsoleReporter;
}

/**
 * The log file as a reporter that opens it (for appending) at its first line only: a pass that has nothing to
 * say about its notifications never creates or touches the file. One that cannot be opened falls back to stderr
 * (`fallback`), as the pass itself reports an unopenable log.
 */
class LogFileOnDemand implements ConsolaReporter {
  private file: FileReporter | undefined;
  private failed = false;
  constructor(
    private readonly path: string,
    private readonly format: LogFormat,
    private readonly fallback: ConsolaReporter | undefined,
  ) {}
  log(obj: LogObject, ctx: Parameters<ConsolaReporter['log']>[1]): void {
    if (obj.level >= 4) return; // debug lines never reach a log file
    if (!this.file && !this.failed) {
      const file = new FileReporter(this.path, this.format);
      try {
        file.open();
        this.file = file;
      } catch {
        this.failed = true;
      }
    }
    if (this.file) this.file.log(obj);
    else this.fallback?.log(obj, ctx);
  }
  close(): void {
    this.file?.close();
  }
}

/** Run `fn` with a logger on the log file (opened at its first line, closed after) and the console if asked. */
async function withLog<T>(target: LogTarget, fn: (log: ConsolaInstance) => Promise<T>): Promise<T> {
  const stderr = new ConsoleReporter({ quiet: true });
  const file = target.path !== undefined ? new LogFileOnDemand(target.path, target.format, target.console ? undefined : stderr) : undefined;
  const reporters: ConsolaReporter[] = [...(file ? [file] : []), ...(target.console ? [target.console] : file ? [] : [stderr])];
  try {
    return await fn(createLogger(reporters));
  } finally {
    file?.close();
  }
}

/**
 * The notifier of a sync-once invocation: its flags, and with `job` the job's stored settings under them.
 * Undefined when there is nothing to notify. Throws UsageError for a bad flag (before anything happens).
 */
export function syncOnceNotifier(args: Record<string, unknown>, job?: { name: string; dir: string }): PassNotifier | undefined {
  const given = notifySettingsFromArgs(args);
  const settings = mergeSettings(job ? readJobNotify(job.name, job.dir) : undefined, given);
  if (!settings) return undefined;
  const log = typeof args['log'] === 'string' ? resolve(args['log']) : undefined;
  return new PassNotifier(settings, {
    ...(job ? { job: job.name } : {}),
    source: resolve(String(args['source'])),
    replica: resolve(String(args['replica'])),
    ...(log ? { log } : {}),
  });
}

/** The pass's own rule for a log (never inside the source or the replica), whether or not those exist. */
function logPathAccepted(args: Record<string, unknown>): boolean {
  const log = args['log'];
  if (typeof log !== 'string' || log.trim() === '') return false;
  const logReal = resolveEventual(resolve(log));
  return [args['source'], args['replica']].every((folder) => !isInside(logReal, resolveEventual(resolve(String(folder)))));
}

function logTarget(args: Record<string, unknown>, console?: ConsoleReporter): LogTarget {
  return {
    ...(typeof args['log'] === 'string' ? { path: args['log'] } : {}),
    format: args['log-format'] === 'json' ? 'json' : 'text',
    ...(console ? { console } : {}),
  };
}

/** A manual pass: start ping, the pass, end ping and hook; the pass's exit code or error comes out unchanged. */
export async function notifiedPass(n: PassNotifier, args: Record<string, unknown>, pass: () => Promise<number>): Promise<number> {
  const console = new ConsoleReporter({ quiet: Boolean(args['quiet']), verbose: Boolean(args['verbose']) });
  // A log path the pass will refuse (inside the source or replica) is never written to: the console only.
  const target = logPathAccepted(args) ? logTarget(args, console) : { format: 'text' as const, console };
  await withLog(target, (log) => n.start(log));
  let end: PassEnd;
  try {
    const code = await pass();
    end = { exitCode: code };
  } catch (error) {
    end =
      error instanceof FolderSyncError
        ? { exitCode: error.exitCode, message: error.message }
        : { exitCode: ExitCode.partial, result: 'error', message: describeError(error) };
    await withLog(target, (log) => n.finish(end, log));
    throw error;
  }
  await withLog(target, (log) => n.finish(end, log));
  return end.exitCode;
}

/** A scheduled pass: the notifications around each attempt, the result kept in the job's record for `list`. */
export function scheduledAround(n: PassNotifier, args: Record<string, unknown>, job: string, dir: string): PassAround {
  const target = logTarget(args);
  return {
    started: () => withLog(target, (log) => n.start(log)),
    ended: async (outcome: PassRecord) => {
      const end: PassEnd = {
        exitCode: outcome.exitCode ?? ExitCode.partial,
        ...(outcome.result !== 'running' ? { result: outcome.result } : {}),
        ...(outcome.message ? { message: outcome.message } : {}),
        ...(outcome.durationMs !== undefined ? { durationMs: outcome.durationMs } : {}),
        ...(outcome.counts ? { counts: outcome.counts } : {}),
      };
      const record = await withLog(target, (log) => n.finish(end, log));
      saveNotification(job, dir, record, target);
    },
  };
}

function saveNotification(job: string, dir: string, notification: NotificationRecord, target: LogTarget): void {
  try {
    writeJobRecord({ ...readJobRecord(job, dir), lastNotification: notification }, dir);
  } catch (error) {
    void withLog(target, async (log) => log.warn(`the job record in ${dir} cannot be written: ${describeError(error)}`));
  }
}

/** `folder-sync run`: the notifier of its flags (no job: a run's settings live on its own command line). */
export function runNotifier(args: Record<string, unknown>, logPath: string): PassNotifier | undefined {
  const settings = notifySettingsFromArgs(args);
  if (!settings) return undefined;
  return new PassNotifier(settings, { source: resolve(String(args['source'])), replica: resolve(String(args['replica'])), log: resolve(logPath) });
}

/** A run's pass outcome as the notifications tell it: refused 2, busy 75, with failures or interrupted 1. */
export function runPassEnd(outcome: PassOutcome): PassEnd {
  const exitCode =
    outcome.result === 'complete' ? ExitCode.ok : outcome.result === 'refused' ? (outcome.busy ? ExitCode.busy : ExitCode.usage) : ExitCode.partial;
  const result = outcome.result === 'complete' ? 'ok' : outcome.result === 'refused' && outcome.busy ? 'busy' : outcome.result;
  const s = outcome.stats;
  return {
    exitCode,
    result,
    durationMs: outcome.durationMs,
    ...(outcome.message ? { message: outcome.message } : {}),
    ...(s ? { counts: { created: s.created, updated: s.updated, removed: s.removed, failed: s.failed, skipped: s.skipped, bytes: s.bytes } } : {}),
  };
}

/** `run` before its log is open: a refusal of `check` (source missing, nested folders) is notified, then thrown. */
export async function notifyRefusal<T>(n: PassNotifier | undefined, check: () => T): Promise<T> {
  try {
    return check();
  } catch (error) {
    if (n && error instanceof FolderSyncError) {
      await withLog({ format: 'text', console: new ConsoleReporter() }, (log) =>
        n.finish({ exitCode: error.exitCode, message: `run not started: ${error.message}` }, log),
      );
    }
    throw error;
  }
}
