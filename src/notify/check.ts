/**
 * `folder-sync check`: is every scheduled job still producing successful passes? A job is stale when its last
 * pass that exited 0 started longer ago than its allowed age (by default twice its interval, at least two
 * minutes, as list's overdue warning); a job never successful counts from when it was scheduled.
 */
import { UsageError } from '../errors.js';
import { readJobRecord, type JobRecord } from '../schedule/record.js';
import { parseInterval } from '../schedule/interval.js';
import { backendFor, type SchedulerBackend } from '../schedule/scheduler.js';
import { stateDir } from '../state.js';

export interface JobCheck {
  name: string;
  ok: boolean;
  /** The allowed age in seconds. */
  maxAgeSeconds?: number;
  /** When the last successful pass started. */
  lastSuccess?: string;
  /** Seconds since the last successful pass (or since the job was scheduled). */
  ageSeconds?: number;
  /** One line for people. */
  text: string;
}

const UNIT_WORDS: Record<string, string> = { s: 'seconds', sec: 'seconds', m: 'minutes', min: 'minutes', h: 'hours', d: 'days', w: 'weeks' };

/** `--max-age`: `90s`, `30m`, `2h`, `1d`, `1w`, or with the unit words of `<interval> <unit>` (`2hours`, `"2 hours"`). */
export function parseMaxAge(text: string): number {
  const m = /^\s*(\d+)\s*([A-Za-z]+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--max-age needs a number and a unit (90s, 30m, 2h, 1d, 1w or "2 hours"), got ${JSON.stringify(text)}`);
  const unit = m[2] as string;
  return parseInterval(m[1] as string, UNIT_WORDS[unit.toLowerCase()] ?? unit).seconds;
}

/** "47 minutes", "3 hours", "2 days": whole units, rounded down. */
export function ageWords(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const [n, unit] =
    s < 120
      ? [s, 'second']
      : s < 7200
        ? [Math.floor(s / 60), 'minute']
        : s < 172_800
          ? [Math.floor(s / 3600), 'hour']
          : [Math.floor(s / 86_400), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** The last pass that exited 0 (records written before `lastSuccess` existed: an ok `lastCompleted`). */
function lastSuccessOf(record: JobRecord): string | undefined {
  return record.lastSuccess?.startedAt ?? (record.lastCompleted?.result === 'ok' ? record.lastCompleted.startedAt : undefined);
}

/** One job, from its record: pure (tests give the time). */
export function checkJob(name: string, everySeconds: number | undefined, record: JobRecord, now: number, maxAgeSeconds?: number): JobCheck {
  if (everySeconds === undefined) {
    return { name, ok: false, text: `${name}: its scheduler entry was changed by hand and cannot be read; schedule it again` };
  }
  const allowed = maxAgeSeconds ?? 2 * Math.max(everySeconds, 60);
  const success = lastSuccessOf(record);
  const reference = success ?? record.scheduledAt;
  const last =
    record.last && record.last.result !== 'ok' ? `; last pass ${record.last.result}${record.last.message ? `: ${record.last.message}` : ''}` : '';
  if (reference === undefined) {
    return { name, ok: false, maxAgeSeconds: allowed, text: `${name}: no successful pass recorded (allowed age ${ageWords(allowed)})${last}` };
  }
  const age = (now - Date.parse(reference)) / 1000;
  const base = { name, maxAgeSeconds: allowed, ageSeconds: Math.floor(age), ...(success ? { lastSuccess: success } : {}) };
  if (age <= allowed) {
    const text = success
      ? `${name}: last successful pass ${ageWords(age)} ago (allowed ${ageWords(allowed)})`
      : `${name}: scheduled ${ageWords(age)} ago, no pass yet (allowed ${ageWords(allowed)})`;
    return { ...base, ok: true, text };
  }
  const text = success
    ? `${name}: no successful pass for ${ageWords(age)} (allowed ${ageWords(allowed)})${last}`
    : `${name}: no successful pass since it was scheduled ${ageWords(age)} ago (allowed ${ageWords(allowed)})${last}`;
  return { ...base, ok: false, text };
}

export async function checkJobs(opts: { maxAgeSeconds?: number; backend?: SchedulerBackend; now?: number } = {}): Promise<JobCheck[]> {
  const backend = opts.backend ?? backendFor();
  const now = opts.now ?? Date.now();
  const home = stateDir();
  return (await backend.list(home)).map((j) =>
    checkJob(j.name, j.spec?.interval.seconds, readJobRecord(j.name, j.stateDir ?? home), now, opts.maxAgeSeconds),
  );
}
