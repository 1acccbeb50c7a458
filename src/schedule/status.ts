/**
 * What `list` knows about the jobs (listJobs: the scheduler's entries, their last-pass records, the locks of
 * running passes and foreground runs) and how `schedule` and `list` show it to a person (`list --json` prints
 * the ListResult as is).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveEventual } from '../sync/path-identity.js';
import { isLocked, isLockAlive, readLock, type LockRecord } from '../sync/lock.js';
import type { SchedulerBackend } from './backend.js';
import { cronDaemonRunning } from './crontab.js';
import { futureRecordWarning, isFutureRecord, nextPassTime } from './due.js';
import { describeJobFilter } from './job-filter.js';
import { readJobRecord, startedAtMs, type JobRecord, type PassRecord } from './record.js';
import { formatMasked, maskedSettings, readJobNotify, type NotifySettings } from '../notify/settings.js';
import { backendFor, invocationStateDir, type SchedulerOptions } from './scheduler.js';
import { formatBytes } from '../progress.js';
import { storeSize, type StoreSize } from '../versions/catalog.js';
import type { VersionsOption } from '../versions/names.js';

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
  /** The job's exclude flags as they could be typed (docs/filters.md). */
  filters?: string;
  scheduledAt?: string;
  lastPass?: PassRecord;
  lastCompleted?: PassRecord;
  nextDue?: string;
  /** A process holding the replica's lock right now (a pass, or a foreground `run`). */
  running?: { pid: number; mode: string; since: string };
  /** issue 14: the job's versions folder, its retention and what it keeps now. */
  versions?: VersionsOption & { size: StoreSize | { error: string } };
  /** Alerts: the job's settings, masked, and its last notification (src/notify). */
  notify?: NotifySettings;
  lastNotification?: JobRecord['lastNotification'];
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
    // A replica has more than one lock file (see lockPaths): one line per holder.
    if (out.some((r) => r.pid === record.pid && r.replica === record.replica)) continue;
    out.push({ replica: record.replica, pid: record.pid, since: record.startedAt, source: record.source, log: record.log });
  }
  return out;
}

export async function listJobs(opts: SchedulerOptions = {}): Promise<ListResult> {
  const backend = opts.backend ?? backendFor();
  const now = opts.now ?? Date.now();
  const home = invocationStateDir(opts);
  const installed = await backend.list(home);
  const warnings: string[] = [];
  if (backend.name === 'crontab' && installed.length > 0 && cronDaemonRunning() === false) {
    warnings.push('no cron daemon is running on this machine: scheduled passes will not run (start cron, or use folder-sync run)');
  }
  const dirs = new Set<string>([home]);
  const jobs = installed.map((j): JobStatus => {
    const dir = j.stateDir ?? home;
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
      filters: describeJobFilter(spec),
      scheduledAt: record.scheduledAt,
      lastPass: record.last,
      lastCompleted: record.lastCompleted,
    });
    if (spec.versions) status.versions = { ...spec.versions, size: storeSize(spec.versions.dir) }; // issue 14
    const last = startedAtMs(record.last);
    if (record.last && isFutureRecord(now, last)) status.warnings.push(futureRecordWarning(record.last.startedAt));
    if (j.nextFiring) status.nextDue = new Date(nextPassTime(spec.rule, now, last, j.nextFiring)).toISOString();
    else if (j.nextRunText) status.nextDue = j.nextRunText;
    const lock = lockOf(spec.replica, dir);
    if (lock) status.running = { pid: lock.pid, mode: lock.mode ?? 'sync-once', since: lock.startedAt };
    const reference = startedAtMs(record.lastCompleted) ?? (record.scheduledAt ? Date.parse(record.scheduledAt) : undefined);
    const overdue = lock ? undefined : overdueWarning(spec.interval.seconds, reference, now, spec.interval.words);
    if (overdue) status.warnings.push(overdue);
    const notify = readJobNotify(j.name, dir);
    if (notify) status.notify = maskedSettings(notify);
    if (record.lastNotification) status.lastNotification = record.lastNotification;
    if (record.lastNotification && !record.lastNotification.ok) status.warnings.push(`last notification failed: ${record.lastNotification.detail}`);
    if (record.last && ['refused', 'error', 'log-failed'].includes(record.last.result)) {
      status.warnings.push(`last pass ${record.last.result}${record.last.message ? `: ${record.last.message}` : ''}`);
    }
    return status;
  });
  const foreground = [...dirs].flatMap(foregroundRuns);
  return { jobs, foreground, warnings };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time with its UTC offset: "2026-11-25 01:21:00 +01:00" (cron and the user think in local time). */
export function formatTime(ms: number | string): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

export function formatPass(p: PassRecord | undefined): string {
  if (!p) return 'none yet';
  let text = `${formatTime(p.startedAt)} ${p.result}`;
  if (p.counts) {
    const c = p.counts;
    text += ` (created ${c.created}, updated ${c.updated}, removed ${c.removed}, failed ${c.failed}, skipped ${c.skipped}, bytes ${c.bytes})`;
  } else if (p.message) {
    text += `: ${p.message}`;
  }
  return text;
}

/** issue 14: "<dir> (keep 30 days; 3 pass folders, 12 entries, 1.2 MiB)". */
function formatVersionsRow(v: NonNullable<JobStatus['versions']>): string {
  const keep = [v.keepDays !== undefined ? `${v.keepDays} days` : '', v.keepVersions !== undefined ? `${v.keepVersions} newest` : '']
    .filter(Boolean)
    .join(' or ');
  const size =
    'error' in v.size
      ? `size unknown: ${v.size.error}`
      : `${v.size.passes} pass folder${v.size.passes === 1 ? '' : 's'}, ${v.size.entries} entries, ${formatBytes(v.size.bytes)}`;
  return `${v.dir} (${keep ? `keep ${keep}` : 'no limit: nothing is pruned'}; ${size})`;
}

export function formatList(result: ListResult): string {
  const out: string[] = [];
  for (const w of result.warnings) out.push(`warning: ${w}`);
  if (result.jobs.length === 0) out.push('no scheduled jobs (folder-sync schedule --help)');
  for (const job of result.jobs) {
    if (out.length > 0) out.push('');
    out.push(`${job.name}: ${job.interval ?? '?'} (${job.backend} ${job.timing})`);
    const rows: [string, string | undefined][] = [
      ['source', job.source],
      ['replica', job.replica],
      ['log', job.log],
      ['filters', job.filters],
      ['last pass', formatPass(job.lastPass)],
      [
        'last completed',
        job.lastCompleted && job.lastCompleted !== job.lastPass && job.lastCompleted.startedAt !== job.lastPass?.startedAt
          ? formatPass(job.lastCompleted)
          : undefined,
      ],
      // Said once per job: what its replica's file system does not keep (from the last pass that ran).
      ['file system', (job.lastCompleted ?? job.lastPass)?.replicaFs],
      [
        'running',
        job.running
          ? `${job.running.mode === 'run' ? 'foreground folder-sync run' : 'a pass'} (pid ${job.running.pid}, since ${formatTime(job.running.since)})`
          : undefined,
      ],
      ['next due', job.nextDue ? formatTime(job.nextDue) : undefined],
      ['versions', job.versions ? formatVersionsRow(job.versions) : undefined], // issue 14
      ['notify', job.notify ? formatMasked(job.notify) : undefined],
      [
        'last notified',
        job.lastNotification
          ? `${formatTime(job.lastNotification.at)} ${job.lastNotification.ok ? 'ok' : 'failed'}: ${job.lastNotification.detail}`
          : undefined,
      ],
    ];
    for (const [label, value] of rows) if (value !== undefined) out.push(`  ${`${label}:`.padEnd(16)}${value}`);
    for (const w of job.warnings) out.push(`  warning: ${w}`);
  }
  if (result.foreground.length > 0) {
    out.push('', 'foreground runs (folder-sync run):');
    for (const f of result.foreground) {
      out.push(`  pid ${f.pid} since ${formatTime(f.since)}: ${f.source ? `${f.source} -> ` : ''}${f.replica}${f.log ? `, log ${f.log}` : ''}`);
    }
  }
  return `${out.join('\n')}\n`;
}
