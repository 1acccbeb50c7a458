/**
 * Pure builders for crontab jobs: the schedule for an interval, the quoted command line, and the edits of a
 * whole crontab text (our tagged lines replaced or removed, every other line kept byte for byte).
 */
import { UsageError } from '../errors.js';
import type { DueRule } from './due.js';

/** The cron schedule of an interval and, when cron cannot express it, the finer grid it fires on. */
export interface CronTiming {
  /** The five cron fields. */
  expr: string;
  /** Seconds between firings. */
  grid: number;
  /** True when every firing is a pass and the spacing is exact without a due-check. */
  exact: boolean;
  /** What the scheduled run is told (`--every`, and `--grid` for a due-check). */
  rule: DueRule;
}

/** Every period cron repeats exactly, in seconds, with its expression: minutes dividing 60, hours dividing 24, day, week. */
const EXACT_CRON: [seconds: number, expr: string][] = [
  ...[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].map((m): [number, string] => [m * 60, m === 1 ? '* * * * *' : `*/${m} * * * *`]),
  ...[1, 2, 3, 4, 6, 8, 12].map((h): [number, string] => [h * 3600, h === 1 ? '0 * * * *' : `0 */${h} * * *`]),
  [86_400, '0 0 * * *'],
  [604_800, '0 0 * * 0'],
];

/**
 * Exact where cron is exact (7 minutes is not: `*\/7` fires at :56 and then :00); otherwise the largest exact
 * period that divides the interval, with the pass skipping itself when not due. Seconds: every minute, and the
 * run does the passes of that minute.
 */
export function cronTiming(everySeconds: number): CronTiming {
  if (everySeconds % 60 !== 0) return { expr: '* * * * *', grid: 60, exact: false, rule: { every: everySeconds } };
  for (const [seconds, expr] of EXACT_CRON) {
    if (seconds === everySeconds) return { expr, grid: seconds, exact: true, rule: { every: everySeconds } };
  }
  let best: [number, string] = EXACT_CRON[0] as [number, string];
  for (const candidate of EXACT_CRON) if (everySeconds % candidate[0] === 0 && candidate[0] > best[0]) best = candidate;
  return { expr: best[1], grid: best[0], exact: false, rule: { every: everySeconds, grid: best[0] } };
}

/** Job names: letters, digits, `-` and `_`, 1 to 64 characters. */
export const JOB_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function checkJobName(name: string): string {
  if (!JOB_NAME.test(name)) {
    throw new UsageError(`job name must be 1 to 64 letters, digits, "-" or "_", got ${JSON.stringify(name)}`);
  }
  return name;
}

/** A path that cannot be written into a one-line crontab entry (or a .cmd file) is refused, naming it. */
export function checkLinePath(path: string, what: string): void {
  if (/[\n\r\0]/.test(path)) {
    throw new UsageError(`${what} path contains a line break, which cannot be written into a scheduler entry: ${JSON.stringify(path)}`);
  }
}

/**
 * Quote one word for /bin/sh: single quotes, `'` as `'\''`. A backslash right before a `%` is separated from it
 * by `''` (an empty quoted string) because cron would otherwise read `\\%` as a literal backslash and then a bare `%`.
 */
export function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`).replaceAll('\\%', `\\''%`)}'`;
}

/** Escape the command part of a crontab line: cron turns a bare `%` into a newline (the rest becomes stdin). */
export function cronEscape(command: string): string {
  return command.replaceAll('%', '\\%');
}

/** What a cron line runs: the absolute Node, the absolute CLI script and the per-user state folder. */
export interface Invocation {
  node: string;
  cli: string;
  stateDir: string;
}

const TAG = '# folder-sync:job=';

/** The marker comment above a job line (informative; the job line's own tag is what identifies it). */
export function cronComment(name: string, words: string): string {
  return `# folder-sync job ${name}: ${words} (managed by folder-sync; change it with folder-sync schedule/unschedule)`;
}

/**
 * For `--log-format json`: turns each line of foreign output (Node crashing, "not found") into a JSON object, so
 * the log stays JSON Lines. Control characters (tab included) become `?`, then `\` and `"` are escaped.
 * Only POSIX tr and sed, found on cron's PATH=/usr/bin:/bin on Linux and macOS.
 */
export const FOREIGN_TO_JSON =
  `tr '\\000-\\011\\013-\\037' '?' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g' ` +
  `-e 's/^/{"level":"error","type":"foreign","message":"/' -e 's/$/"}/'`;

/**
 * The job line: schedule, the state folder, Node, the CLI and its `sync-once` arguments, all quoted; stdout and
 * stderr appended to the log so what the run prints outside its log (a crash of Node, a missing file) lands
 * there too (a scheduled run writes nothing else to them; with a JSON log, wrapped as JSON objects); a
 * trailing sh comment tags the line with its name.
 */
export function buildCronLine(
  name: string,
  expr: string,
  inv: Invocation,
  passArgs: readonly string[],
  log: string,
  logFormat: 'text' | 'json' = 'text',
): string {
  checkJobName(name);
  for (const [what, path] of [
    ['Node', inv.node],
    ['CLI script', inv.cli],
    ['state folder', inv.stateDir],
    ['log file', log],
  ] as const) {
    checkLinePath(path, what);
  }
  for (const arg of passArgs) checkLinePath(arg, 'argument');
  const words = [`FOLDER_SYNC_STATE_DIR=${shQuote(inv.stateDir)}`, shQuote(inv.node), shQuote(inv.cli), ...passArgs.map(shWord)];
  const output = logFormat === 'json' ? `2>&1 | ${FOREIGN_TO_JSON} >>${shQuote(log)}` : `>>${shQuote(log)} 2>&1`;
  return `${expr} ${cronEscape(`${words.join(' ')} ${output}`)} ${TAG}${name}`;
}

/** Bare words that need no quoting stay bare (flags, numbers, names) so the line stays readable. */
function shWord(word: string): string {
  return /^(--[a-z][a-z-]*|[0-9]+)$/.test(word) ? word : shQuote(word);
}

/** A job found in a crontab text. */
export interface CronJobLine {
  name: string;
  expr: string;
  /** Index of the job line in the table's lines. */
  index: number;
  /** The command's words, unquoted: [node, cli, 'sync-once', ...]. */
  argv: string[];
  /** FOLDER_SYNC_STATE_DIR baked into the line. */
  stateDir?: string;
}

/** Undo cron's `%` escaping, then split the sh words of our own lines (single quotes, `\x`, plain words). */
export function parseCronCommand(command: string): { env: Record<string, string>; argv: string[] } {
  const unescaped = command.replace(/\\([\s\S])/g, (m, c: string) => (c === '%' ? '%' : m));
  const words: string[] = [];
  let i = 0;
  const n = unescaped.length;
  while (i < n) {
    while (i < n && /\s/.test(unescaped[i] as string)) i++;
    // The command's words end at the first redirection or pipe (`>>log`, `2>&1`, `|`) or comment.
    if (i >= n || /^(#|\||\d*>)/.test(unescaped.slice(i, i + 3))) break;
    let word = '';
    while (i < n && !/\s/.test(unescaped[i] as string)) {
      const c = unescaped[i] as string;
      if (c === "'") {
        const end = unescaped.indexOf("'", i + 1);
        if (end < 0) throw new Error('unterminated quote');
        word += unescaped.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\' && i + 1 < n) {
        word += unescaped[i + 1];
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] as string)) {
    const w = words.shift() as string;
    env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return { env, argv: words };
}

/** Split a crontab text into lines, keeping whether it ended with a newline. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function tagOf(line: string): string | undefined {
  const at = line.lastIndexOf(` ${TAG}`);
  if (at < 0 || line.trimStart().startsWith('#')) return undefined;
  const name = line.slice(at + TAG.length + 1);
  return JOB_NAME.test(name) ? name : undefined;
}

/** Our jobs in a crontab text, in order. Lines that do not parse as ours are not ours. */
export function findCronJobs(text: string): CronJobLine[] {
  const out: CronJobLine[] = [];
  splitLines(text).forEach((line, index) => {
    const name = tagOf(line);
    if (!name) return;
    const fields = line.trim().split(/\s+/);
    const expr = fields.slice(0, 5).join(' ');
    const body = line.trim().replace(/^(\S+\s+){5}/, '');
    try {
      const { env, argv } = parseCronCommand(body.slice(0, body.lastIndexOf(` ${TAG}`)));
      out.push({ name, expr, index, argv, stateDir: env['FOLDER_SYNC_STATE_DIR'] });
    } catch {
      // a hand-edited line we cannot read: still ours by its tag, listed with what we know
      out.push({ name, expr, index, argv: [] });
    }
  });
  return out;
}

/** The indexes of a job's lines: its tagged line and the marker comment right above it, if any. */
function jobLineIndexes(lines: readonly string[], keep: (name: string) => boolean): Set<number> {
  const drop = new Set<number>();
  lines.forEach((line, i) => {
    const name = tagOf(line);
    if (name === undefined || keep(name)) return;
    drop.add(i);
    const above = lines[i - 1];
    if (above !== undefined && above.startsWith(`# folder-sync job ${name}: `)) drop.add(i - 1);
  });
  return drop;
}

/** Lines back to a table; cron needs the last line to end with a newline, so it always does. */
function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Replace the job `name` (or append it), keeping every other line as it was. */
export function upsertCronJob(text: string, name: string, block: readonly string[]): string {
  const lines = splitLines(text);
  const drop = jobLineIndexes(lines, (n) => n !== name);
  const first = Math.min(...drop);
  const kept = lines.filter((_, i) => !drop.has(i));
  if (drop.size > 0) {
    const before = lines.slice(0, first).filter((_, i) => !drop.has(i)).length;
    kept.splice(before, 0, ...block);
  } else {
    kept.push(...block);
  }
  return joinLines(kept);
}

/** Remove the named jobs (or all of ours with `all`); returns the new text and the names removed. */
export function removeCronJobs(text: string, names: readonly string[] | 'all'): { text: string; removed: string[] } {
  const lines = splitLines(text);
  const wanted = (n: string): boolean => names === 'all' || names.includes(n);
  const drop = jobLineIndexes(lines, (n) => !wanted(n));
  const removed = [...new Set(lines.map(tagOf).filter((n, i): n is string => n !== undefined && drop.has(i)))];
  return { text: joinLines(lines.filter((_, i) => !drop.has(i))), removed };
}

/** Parse one cron field of the forms we write (`*`, `*\/n`, `n`) into a matcher. */
function fieldMatcher(field: string): (value: number) => boolean {
  if (field === '*') return () => true;
  const step = /^\*\/(\d+)$/.exec(field);
  if (step) return (v) => v % Number(step[1]) === 0;
  const values = field.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v))) throw new Error(`unsupported cron field ${field}`);
  return (v) => values.includes(v) || (values.includes(7) && v === 0);
}

/**
 * The first firing strictly after `afterMs` of a cron expression of the forms we write, in local time
 * (as cron reads it). Walks minute by minute: at most a week of minutes.
 */
export function nextCronTime(expr: string, afterMs: number): number {
  const [min, hour, dom, mon, dow] = expr.split(/\s+/).map(fieldMatcher) as ((v: number) => boolean)[];
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < 60 * 24 * 8; i++, t += 60_000) {
    const d = new Date(t);
    if (min!(d.getMinutes()) && hour!(d.getHours()) && dom!(d.getDate()) && mon!(d.getMonth() + 1) && dow!(d.getDay())) {
      return t;
    }
  }
  throw new Error(`no firing of "${expr}" within a week`);
}
