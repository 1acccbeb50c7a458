/**
 * The crontab backend (Linux, macOS): read the whole table with `crontab -l`, edit it with the pure functions
 * of cron.ts, write it back whole with `crontab -`. Never `crontab -r`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { BusyError, describeError, OperationError } from '../errors.js';
import { ReplicaLock } from '../sync/lock.js';
import {
  buildCronLine,
  cronComment,
  cronTiming,
  findCronJobs,
  nextCronTime,
  removeCronJobs,
  upsertCronJob,
  type CronJobLine,
  type Invocation,
} from './cron.js';
import { jobPassArgs, parseJobPassArgs, type JobSpec } from './jobs.js';
import type { InstalledJob, InstallResult, SchedulerBackend } from './backend.js';

/** The crontab command; FOLDER_SYNC_CRONTAB points elsewhere (tests of failure paths). */
function crontabCommand(): string {
  return process.env['FOLDER_SYNC_CRONTAB'] || 'crontab';
}

function failure(what: string, error: { stderr?: unknown; shortMessage?: string; code?: string }): OperationError {
  if (error.code === 'ENOENT') {
    return new OperationError(`cannot ${what}: the crontab command is not installed (Debian/Ubuntu: apt-get install cron)`);
  }
  const detail =
    String(error.stderr ?? '')
      .trim()
      .split('\n')[0] ||
    error.shortMessage ||
    'failed';
  return new OperationError(`cannot ${what}: ${detail}`);
}

/** The current table; "no crontab for <user>" is an empty table, any other failure throws (nothing is written). */
export async function readCrontab(): Promise<string> {
  const r = await execa(crontabCommand(), ['-l'], { reject: false, stripFinalNewline: false, stdin: 'ignore' });
  if (r.exitCode === 0 && !r.failed) return String(r.stdout);
  if (/no crontab for/i.test(String(r.stderr))) return '';
  throw failure('read the crontab (crontab -l)', r as never);
}

export async function writeCrontab(text: string): Promise<void> {
  const r = await execa(crontabCommand(), ['-'], { reject: false, input: text });
  if (r.exitCode !== 0 || r.failed) throw failure('install the crontab (crontab -)', r as never);
}

/**
 * Read-modify-write of the table. crontab has no locking: folder-sync commands take a lock in the state folder
 * for the edit, and read the table back after writing, redoing the edit if someone else (`crontab -e` at the
 * same moment) wrote over it.
 */
async function editCrontab<T>(edit: (text: string) => { text: string; value: T }, applied: (text: string) => boolean): Promise<T> {
  const lock = await tableLock();
  try {
    return await editLocked(edit, applied);
  } finally {
    lock.release();
  }
}

/** Two folder-sync commands editing the table at once would each write back their own copy: one at a time. */
async function tableLock(): Promise<ReplicaLock> {
  const lock = new ReplicaLock('crontab (table edit)', 'schedule');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      lock.acquire();
      return lock;
    } catch (error) {
      if (!(error instanceof BusyError)) throw error; // the state folder cannot be written: its own clear line
      if (Date.now() > deadline) throw new OperationError(`another folder-sync command kept the crontab busy: ${describeError(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    }
  }
}

async function editLocked<T>(edit: (text: string) => { text: string; value: T }, applied: (text: string) => boolean): Promise<T> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await readCrontab();
    const { text, value } = edit(before);
    if (text !== before) await writeCrontab(text);
    if (applied(await readCrontab())) return value;
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
  }
  throw new OperationError('the crontab kept changing while folder-sync edited it; run the command again');
}

function toInstalled(line: CronJobLine): InstalledJob {
  return {
    name: line.name,
    backend: 'crontab',
    timing: line.expr,
    spec: parseJobPassArgs(line.argv),
    nextFiring: (after) => nextCronTime(line.expr, after),
    stateDir: line.stateDir,
  };
}

export const crontabBackend: SchedulerBackend = {
  name: 'crontab',
  async install(job: JobSpec, inv: Invocation): Promise<InstallResult> {
    const timing = cronTiming(job.interval.seconds);
    const line = buildCronLine(job.name, timing.expr, inv, jobPassArgs(job, timing.rule), job.log, job.logFormat);
    const block = [cronComment(job.name, job.interval.words), line];
    const lineIsIn = (text: string): boolean => text.split('\n').includes(line);
    const replaced = await editCrontab(
      (text) => ({ text: upsertCronJob(text, job.name, block), value: findCronJobs(text).some((j) => j.name === job.name) }),
      lineIsIn,
    );
    return { replaced, timing: timing.expr, exact: timing.exact };
  },
  async remove(names: readonly string[] | 'all'): Promise<string[]> {
    let removed: string[] = [];
    return editCrontab(
      (text) => {
        const r = removeCronJobs(text, names);
        removed = [...new Set([...removed, ...r.removed])];
        return { text: r.text, value: removed };
      },
      (text) => !findCronJobs(text).some((j) => removed.includes(j.name)),
    );
  },
  async list(): Promise<InstalledJob[]> {
    return findCronJobs(await readCrontab()).map(toInstalled);
  },
};

/** Process names of cron daemons (Vixie/Debian cron, cronie, busybox crond, fcron, dcron). */
const CRON_DAEMONS = new Set(['cron', 'crond', 'cronie', 'fcron', 'dcron', 'busybox-crond']);

/**
 * Linux: whether a cron daemon is running, from /proc (no pgrep needed). Undefined elsewhere or when /proc
 * cannot be read (then nothing is claimed).
 */
export function cronDaemonRunning(proc = '/proc'): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      const comm = readFileSync(`${proc}/${pid}/comm`, 'utf8').trim();
      if (CRON_DAEMONS.has(comm)) return true;
      if (comm === 'busybox') {
        const cmdline = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0');
        if (cmdline.some((a) => a === 'crond' || a.endsWith('/crond'))) return true;
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return false;
}
