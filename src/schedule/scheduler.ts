/**
 * The scheduling API behind `schedule`, `unschedule` and `list`, independent of the OS scheduler: crontab on
 * Linux and macOS, Task Scheduler on Windows.
 */
import { closeSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeError, OperationError, RefusedError } from '../errors.js';
import type { LogFormat } from '../log.js';
import { stateDir } from '../state.js';
import { checkPassPaths, resolveEventual } from '../sync/guards.js';
import { isLocked, readLock, isLockAlive, type LockRecord } from '../sync/lock.js';
import { checkJobName, type Invocation } from './cron.js';
import { cronDaemonRunning, crontabBackend } from './crontab.js';
import { nextPassTime } from './due.js';
import type { Interval } from './interval.js';
import { currentInvocation, uniqueJobName, type JobSpec } from './jobs.js';
import { readJobRecord, removeJobRecord, writeJobRecord, type PassRecord } from './record.js';
import { schtasksBackend } from './schtasks.js';
import { storeSize, type StoreSize } from '../versions/catalog.js';
import { checkVersionsDir } from '../versions/guards.js';
import type { VersionsOption } from '../versions/names.js';
import type { SchedulerBackend } from './backend.js';

export type { InstalledJob, InstallResult, SchedulerBackend } from './backend.js';

export function backendFor(platform: NodeJS.Platform = process.platform): SchedulerBackend {
  return platform === 'win32' ? schtasksBackend : crontabBackend;
}

export interface ScheduleRequest {
  source: string;
  replica: string;
  log: string;
  interval: Interval;
  name?: string;
  checksum?: boolean;
  maxDelete?: number;
  allowEmptySource?: boolean;
  logFormat?: LogFormat;
  /** issue 14: --versions and its retention. */
  versions?: VersionsOption;
}

export interface ScheduleOutcome {
  job: JobSpec;
  replaced: boolean;
  timing: string;
  exact: boolean;
  /** The first pass, when it can be computed (ms). */
  nextRun?: number;
  backend: SchedulerBackend['name'];
}

export interface SchedulerOptions {
  backend?: SchedulerBackend;
  invocation?: Invocation;
  now?: number;
}

/**
 * Install (or replace) a job. The pass guards run first (source is a folder, no nesting, log outside both),
 * and the log file must be openable for appending, so a job that could never work is never installed.
 */
export async function scheduleJob(req: ScheduleRequest, opts: SchedulerOptions = {}): Promise<ScheduleOutcome> {
  const backend = opts.backend ?? backendFor();
  const inv = opts.invocation ?? currentInvocation();
  const paths = checkPassPaths(req.source, req.replica, req.log);
  if (req.versions) checkVersionsDir(req.versions.dir, paths); // issue 14: a job that would be refused is not installed
  const source = resolve(req.source);
  const replica = resolve(req.replica);
  const log = resolve(req.log);
  try {
    // The job's output is appended to the log by the shell before Node starts: the folder and file must exist.
    mkdirSync(dirname(log), { recursive: true });
    closeSync(openSync(log, 'a'));
  } catch (error) {
    throw new RefusedError(`log file cannot be opened for appending: ${log}: ${describeError(error)}`);
  }
  const installed = await backend.list();
  let name: string;
  if (req.name !== undefined) {
    name = checkJobName(req.name);
  } else {
    const taken = new Map(installed.map((j) => [j.name, j.spec?.replica ?? '']));
    name = uniqueJobName(replica, taken);
  }
  const job: JobSpec = {
    name,
    source,
    replica,
    log,
    interval: req.interval,
    checksum: req.checksum ?? false,
    maxDelete: req.maxDelete,
    allowEmptySource: req.allowEmptySource ?? false,
    logFormat: req.logFormat ?? 'text',
    ...(req.versions && { versions: { ...req.versions, dir: resolve(req.versions.dir) } }),
  };
  const result = await backend.install(job, inv);

  const now = opts.now ?? Date.now();
  const old = readJobRecord(name, inv.stateDir);
  const same = old.source === source && old.replica === replica;
  writeJobRecord(
    {
      version: 1,
      name,
      scheduledAt: new Date(now).toISOString(),
      source,
      replica,
      ...(same ? { last: old.last, lastCompleted: old.lastCompleted } : {}),
    },
    inv.stateDir,
  );
  const fresh = (await backend.list()).find((j) => j.name === name);
  const nextRun =
    fresh?.spec && fresh.nextFiring ? nextPassTime(fresh.spec.rule, now, same ? lastStart(old.last) : undefined, fresh.nextFiring) : undefined;
  return { job, ...result, nextRun, backend: backend.name };
}

function lastStart(record: PassRecord | undefined): number | undefined {
  return record ? Date.parse(record.startedAt) : undefined;
}

/** Remove the named jobs (each must exist) or all of ours; their records go too. Returns the names removed. */
export async function unscheduleJobs(names: readonly string[] | 'all', opts: SchedulerOptions = {}): Promise<string[]> {
  const backend = opts.backend ?? backendFor();
  if (names !== 'all') {
    for (const n of names) checkJobName(n);
    const present = new Set((await backend.list()).map((j) => j.name));
    const unknown = names.filter((n) => !present.has(n));
    if (unknown.length > 0) {
      throw new OperationError(`no folder-sync job named ${unknown.map((n) => JSON.stringify(n)).join(', ')} (see folder-sync list)`);
    }
  }
  const jobs = await backend.list();
  const removed = await backend.remove(names);
  for (const name of removed) {
    const dir = jobs.find((j) => j.name === name)?.stateDir ?? stateDir();
    removeJobRecord(name, dir);
  }
  return removed;
}

/** A job's status for `list`. */
export interface JobStatus {
  name: string;
  backend: SchedulerBackend['name'];
  timing: string;
  interval?: string;
  everySeconds?: number;
  source?: string;
  replica?: string;
  log?: string;
  scheduledAt?: string;
  lastPass?: PassRecord;
  lastCompleted?: PassRecord;
  nextDue?: string;
  /** A process holding the replica's lock right now (a pass, or a foreground `run`). */
  running?: { pid: number; mode: string; since: string };
  /** issue 14: the job's versions folder, its retention and what it keeps now. */
  versions?: VersionsOption & { size: StoreSize | { error: string } };
  warnings: string[];
}

/** A foreground `folder-sync run` found by its lock. */
export interface ForegroundRun {
  replica: string;
  pid: number;
  since: string;
  source?: string;
  log?: string;
}

export interface ListResult {
  jobs: JobStatus[];
  foreground: ForegroundRun[];
  warnings: string[];
}

/** Overdue: no completed pass for more than twice the interval (at least two minutes: cron fires by the minute). */
export function overdueWarning(everySeconds: number, reference: number | undefined, now: number, words: string): string | undefined {
  if (reference === undefined) return undefined;
  const limit = 2 * Math.max(everySeconds, 60) * 1000;
  if (now - reference <= limit) return undefined;
  const minutes = Math.floor((now - reference) / 60_000);
  return `overdue: no completed pass for ${minutes} minutes (scheduled ${words}); is the scheduler running, or are passes failing?`;
}

function lockOf(replica: string, dir: string): LockRecord | undefined {
  try {
    return isLocked(resolveEventual(replica), dir);
  } catch {
    return undefined;
  }
}

/** Foreground `run` processes from the live locks of a state folder. */
export function foregroundRuns(dir: string): ForegroundRun[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'locks')).filter((n) => n.endsWith('.lock'));
  } catch {
    return [];
  }
  const out: ForegroundRun[] = [];
  for (const n of names) {
    const record = readLock(join(dir, 'locks', n));
    if (!record || record.mode !== 'run' || !isLockAlive(record)) continue;
    out.push({ replica: record.replica, pid: record.pid, since: record.startedAt, source: record.source, log: record.log });
  }
  return out;
}

export async function listJobs(opts: SchedulerOptions = {}): Promise<ListResult> {
  const backend = opts.backend ?? backendFor();
  const now = opts.now ?? Date.now();
  const installed = await backend.list();
  const warnings: string[] = [];
  if (backend.name === 'crontab' && installed.length > 0 && cronDaemonRunning() === false) {
    warnings.push('no cron daemon is running on this machine: scheduled passes will not run (start cron, or use folder-sync run)');
  }
  const dirs = new Set<string>([stateDir()]);
  const jobs = installed.map((j): JobStatus => {
    const dir = j.stateDir ?? stateDir();
    dirs.add(dir);
    const status: JobStatus = { name: j.name, backend: j.backend, timing: j.timing, warnings: [] };
    const spec = j.spec;
    if (!spec) {
      status.warnings.push('this entry was changed by hand and cannot be read; schedule the job again or unschedule it');
      return status;
    }
    const record = readJobRecord(j.name, dir);
    Object.assign(status, {
      interval: spec.interval.words,
      everySeconds: spec.interval.seconds,
      source: spec.source,
      replica: spec.replica,
      log: spec.log,
      scheduledAt: record.scheduledAt,
      lastPass: record.last,
      lastCompleted: record.lastCompleted,
    });
    if (spec.versions) status.versions = { ...spec.versions, size: storeSize(spec.versions.dir) }; // issue 14
    const last = lastStart(record.last);
    if (j.nextFiring) status.nextDue = new Date(nextPassTime(spec.rule, now, last, j.nextFiring)).toISOString();
    else if (j.nextRunText) status.nextDue = j.nextRunText;
    const lock = lockOf(spec.replica, dir);
    if (lock) status.running = { pid: lock.pid, mode: lock.mode ?? 'sync-once', since: lock.startedAt };
    const reference = lastStart(record.lastCompleted) ?? (record.scheduledAt ? Date.parse(record.scheduledAt) : undefined);
    const overdue = lock ? undefined : overdueWarning(spec.interval.seconds, reference, now, spec.interval.words);
    if (overdue) status.warnings.push(overdue);
    if (record.last && ['refused', 'error', 'log-failed'].includes(record.last.result)) {
      status.warnings.push(`last pass ${record.last.result}${record.last.message ? `: ${record.last.message}` : ''}`);
    }
    return status;
  });
  const foreground = [...dirs].flatMap(foregroundRuns);
  return { jobs, foreground, warnings };
}
