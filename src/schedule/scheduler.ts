/**
 * The scheduling API behind `schedule` and `unschedule` (`list` is status.ts), independent of the OS scheduler: crontab on
 * Linux and macOS, Task Scheduler on Windows.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describeError, OperationError, RefusedError } from '../errors.js';
import type { LogFormat } from '../log.js';
import { stateDir } from '../state.js';
import { checkFilterSpec } from '../sync/filter.js';
import { checkPassPaths } from '../sync/path-guards.js';
import { checkJobName, type Invocation } from './cron.js';
import { crontabBackend } from './crontab.js';
import { nextPassTime } from './due.js';
import type { Interval } from './interval.js';
import type { JobFilter } from './job-filter.js';
import { currentInvocation, uniqueJobName, type JobSpec } from './jobs.js';
import { readJobRecord, removeJobRecord, startedAtMs, writeJobRecord } from './record.js';
import { checkVersionsDir } from '../versions/guards.js';
import type { VersionsOption } from '../versions/names.js';
import type { SchedulerBackend } from './backend.js';
import { schtasksBackend } from './schtasks.js';

export type { InstalledJob, InstallResult, SchedulerBackend } from './backend.js';

export function backendFor(platform: NodeJS.Platform = process.platform): SchedulerBackend {
  return platform === 'win32' ? schtasksBackend : crontabBackend;
}

export interface ScheduleRequest extends JobFilter {
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

/** The state folder schedule, unschedule and list work in: the invocation's, as install writes there. */
export function invocationStateDir(opts: SchedulerOptions): string {
  return opts.invocation?.stateDir ?? stateDir();
}

/**
 * Install (or replace) a job. The pass guards run first (source is a folder, no nesting, log outside both),
 * and the log file must be openable for appending, so a job that could never work is never installed.
 */
export async function scheduleJob(req: ScheduleRequest, opts: SchedulerOptions = {}): Promise<ScheduleOutcome> {
  const backend = opts.backend ?? backendFor();
  const inv = opts.invocation ?? currentInvocation();
  const dir = inv.stateDir;
  const paths = checkPassPaths(req.source, req.replica, req.log);
  if (req.versions) checkVersionsDir(req.versions.dir, paths); // issue 14: a job that would be refused is not installed
  // Exit 2 now for bad patterns or an unreadable --exclude-from, which is then kept by its absolute path.
  const filter = req.filter && checkFilterSpec(req.filter, req.source);
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
  const installed = await backend.list(dir);
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
  if (filter && Object.keys(filter).length > 0) job.filter = filter;
  if (req.deleteExcluded) job.deleteExcluded = true;
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
      ...(same ? { last: old.last, lastCompleted: old.lastCompleted, lastSuccess: old.lastSuccess, lastNotification: old.lastNotification } : {}),
    },
    inv.stateDir,
  );
  const fresh = (await backend.list(dir)).find((j) => j.name === name);
  const nextRun =
    fresh?.spec && fresh.nextFiring ? nextPassTime(fresh.spec.rule, now, same ? startedAtMs(old.last) : undefined, fresh.nextFiring) : undefined;
  return { job, ...result, nextRun, backend: backend.name };
}

/** Remove the named jobs (each must exist) or all of ours; their records go too. Returns the names removed. */
export async function unscheduleJobs(names: readonly string[] | 'all', opts: SchedulerOptions = {}): Promise<string[]> {
  const backend = opts.backend ?? backendFor();
  const dir = invocationStateDir(opts);
  if (names !== 'all') {
    for (const n of names) checkJobName(n);
    const present = new Set((await backend.list(dir)).map((j) => j.name));
    const unknown = names.filter((n) => !present.has(n));
    if (unknown.length > 0) {
      throw new OperationError(`no folder-sync job named ${unknown.map((n) => JSON.stringify(n)).join(', ')} (see folder-sync list)`);
    }
  }
  const jobs = await backend.list(dir);
  const removed = await backend.remove(names, dir);
  for (const name of removed) {
    removeJobRecord(name, jobs.find((j) => j.name === name)?.stateDir ?? dir);
  }
  return removed;
}
