/**
 * A scheduled job as folder-sync sees it, independent of the OS scheduler: what it mirrors, how often, with
 * which flags, and the `sync-once` arguments a scheduler runs for it (and back).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogFormat } from '../log.js';
import type { VersionsOption } from '../versions/names.js';
import { stateDir } from '../state.js';
import type { DueRule } from './due.js';
import { intervalFromSeconds, type Interval } from './interval.js';
import { JOB_NAME, type Invocation } from './cron.js';
import { jobFilterArgs, parseJobFilterArgs, type JobFilter } from './job-filter.js';

export interface JobSpec extends JobFilter {
  name: string;
  /** Absolute paths. */
  source: string;
  replica: string;
  log: string;
  interval: Interval;
  checksum: boolean;
  maxDelete?: number;
  allowEmptySource: boolean;
  logFormat: LogFormat;
  /** issue 14: --versions and its retention. */
  versions?: VersionsOption;
}

/** The `sync-once` arguments a scheduler runs for a job (after Node and the CLI script). */
export function jobPassArgs(job: JobSpec, rule: DueRule): string[] {
  const args = ['sync-once', job.source, job.replica, '--log', job.log, '--job', job.name, '--every', String(rule.every)];
  if (rule.grid !== undefined) args.push('--grid', String(rule.grid));
  if (job.checksum) args.push('--checksum');
  if (job.maxDelete !== undefined) args.push('--max-delete', String(job.maxDelete));
  if (job.allowEmptySource) args.push('--allow-empty-source');
  if (job.logFormat === 'json') args.push('--log-format', 'json');
  args.push(...jobFilterArgs(job));
  if (job.versions) args.push(...versionsPassArgs(job.versions)); // issue 14
  return args;
}

/** Read a job back from the arguments `jobPassArgs` wrote; undefined when they are not ours. */
export function parseJobPassArgs(args: readonly string[]): (JobSpec & { rule: DueRule }) | undefined {
  const at = args.indexOf('sync-once');
  if (at < 0) return undefined;
  const [source, replica] = [args[at + 1], args[at + 2]];
  const flags = new Map<string, string | true>();
  for (let i = at + 3; i < args.length; i++) {
    const a = args[i] as string;
    if (['--log', '--job', '--every', '--grid', '--max-delete', '--log-format', ...VERSIONS_FLAGS].includes(a)) {
      flags.set(a, args[i + 1] ?? '');
      i++;
    } else {
      flags.set(a, true);
    }
  }
  const every = Number(flags.get('--every'));
  const name = flags.get('--job');
  const log = flags.get('--log');
  if (!source || !replica || typeof name !== 'string' || typeof log !== 'string' || !Number.isSafeInteger(every)) return undefined;
  const grid = flags.has('--grid') ? Number(flags.get('--grid')) : undefined;
  const maxDelete = flags.has('--max-delete') ? Number(flags.get('--max-delete')) : undefined;
  let interval: Interval;
  try {
    interval = intervalFromSeconds(every);
  } catch {
    return undefined;
  }
  return {
    name,
    source,
    replica,
    log,
    interval,
    checksum: flags.has('--checksum'),
    maxDelete,
    allowEmptySource: flags.has('--allow-empty-source'),
    logFormat: flags.get('--log-format') === 'json' ? 'json' : 'text',
    ...versionsFromFlags(flags), // issue 14
    rule: grid === undefined ? { every } : { every, grid },
    ...parseJobFilterArgs(args.slice(at + 3)),
  };
}

// issue 14: a job's --versions flags, written and read back.
const VERSIONS_FLAGS = ['--versions', '--keep-days', '--keep-versions'];

function versionsPassArgs(v: VersionsOption): string[] {
  const args = ['--versions', v.dir];
  if (v.keepDays !== undefined) args.push('--keep-days', String(v.keepDays));
  if (v.keepVersions !== undefined) args.push('--keep-versions', String(v.keepVersions));
  return args;
}

function versionsFromFlags(flags: ReadonlyMap<string, string | true>): { versions?: VersionsOption } {
  const dir = flags.get('--versions');
  if (typeof dir !== 'string') return {};
  const versions: VersionsOption = { dir };
  if (flags.has('--keep-days')) versions.keepDays = Number(flags.get('--keep-days'));
  if (flags.has('--keep-versions')) versions.keepVersions = Number(flags.get('--keep-versions'));
  return { versions };
}
// end issue 14

/** The name a job gets when `--name` is not given: the replica folder's name, made safe. */
export function defaultJobName(replica: string): string {
  const base = basename(replica)
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return base === '' ? 'replica' : base;
}

/** A second replica with the same folder name gets the name plus a short hash of its path, never the first one's job. */
export function uniqueJobName(replica: string, taken: ReadonlyMap<string, string>): string {
  const name = defaultJobName(replica);
  const owner = taken.get(name);
  if (owner === undefined || owner === replica) return name;
  const suffixed = `${name}-${createHash('sha256').update(replica).digest('hex').slice(0, 6)}`;
  return JOB_NAME.test(suffixed) ? suffixed : name;
}

/** What the scheduler runs: this Node, this CLI script (dist/cli.js beside this module) and this state folder. */
export function currentInvocation(): Invocation {
  return {
    node: process.execPath,
    cli: fileURLToPath(new URL('../cli.js', import.meta.url)),
    stateDir: stateDir(),
  };
}
