/** How `schedule` and `list` show times and jobs to a person (`list --json` prints the ListResult as is). */
import type { PassRecord } from './record.js';
import type { JobStatus, ListResult } from './scheduler.js';
import { formatBytes } from '../progress.js';

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
      ['last pass', formatPass(job.lastPass)],
      [
        'last completed',
        job.lastCompleted && job.lastCompleted !== job.lastPass && job.lastCompleted.startedAt !== job.lastPass?.startedAt
          ? formatPass(job.lastCompleted)
          : undefined,
      ],
      [
        'running',
        job.running
          ? `${job.running.mode === 'run' ? 'foreground folder-sync run' : 'a pass'} (pid ${job.running.pid}, since ${formatTime(job.running.since)})`
          : undefined,
      ],
      ['next due', job.nextDue ? formatTime(job.nextDue) : undefined],
      ['versions', job.versions ? formatVersionsRow(job.versions) : undefined], // issue 14
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
