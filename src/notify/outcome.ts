/**
 * The outcome of one pass as the notifications tell it: a small summary (result, exit code, counts, bytes,
 * duration, the first error lines; never file contents) rendered as text for a ping body or a hook's stdin, and
 * as JSON for a hook's environment.
 */
import type { ConsolaReporter, LogObject } from 'consola';
import { ExitCode } from '../errors.js';
import { formatEvent, oneLine, type LogEvent } from '../log.js';
import type { PassCounts, PassResult } from '../schedule/record.js';

/** What one pass ended as. `interrupted`: a `run` stopped between two files by SIGINT/SIGTERM. */
export type OutcomeResult = Exclude<PassResult, 'running'> | 'interrupted';

export interface PassSummary {
  result: OutcomeResult;
  exitCode: number;
  job?: string;
  source: string;
  replica: string;
  log?: string;
  startedAt: string;
  durationMs: number;
  /** Entries checked and the operation counts, for a pass that ran. */
  checked?: number;
  counts?: PassCounts;
  /** The refusal or error line of a pass that did not run, or why it stopped. */
  message?: string;
  /** The first WARN/ERROR lines of the pass (at most MAX_ERROR_LINES, each at most MAX_LINE chars). */
  errors: string[];
  dryRun?: boolean;
}

export const MAX_ERROR_LINES = 10;
const MAX_LINE = 500;
/** Healthchecks.io keeps the first 10 KB of a ping body; the body never needs more. */
export const MAX_BODY_BYTES = 10_000;

/** The result a plain exit code stands for (sync-once's table in src/errors.ts). */
export function resultOfExitCode(code: number): OutcomeResult {
  switch (code) {
    case ExitCode.ok:
      return 'ok';
    case ExitCode.partial:
      return 'partial';
    case ExitCode.usage:
      return 'refused';
    case ExitCode.logFailed:
      return 'log-failed';
    case ExitCode.busy:
      return 'busy';
    default:
      return 'error';
  }
}

/**
 * A reporter added to a pass's logger: keeps the first warning and error lines and the pass's own summary event
 * (checked, counts, bytes, duration). `reset()` before each pass of a process that runs several.
 */
export class PassObserver implements ConsolaReporter {
  errors: string[] = [];
  summary: Extract<LogEvent, { type: 'summary' }> | undefined;

  reset(): void {
    this.errors = [];
    this.summary = undefined;
  }

  log(obj: LogObject): void {
    const event = obj['event'] as LogEvent | undefined;
    if (event?.type === 'summary') this.summary = event;
    if (obj.level > 1 || this.errors.length >= MAX_ERROR_LINES) return;
    const text = oneLine(event ? formatEvent(event) : obj.args.map(String).join(' '));
    this.errors.push(text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text);
  }

  /** Counts of the pass that ran, from its summary event. */
  counts(): { checked: number; counts: PassCounts; durationMs: number; dryRun: boolean } | undefined {
    const s = this.summary;
    if (!s) return undefined;
    const { created, updated, removed, failed, skipped, bytes } = s;
    return { checked: s.checked, counts: { created, updated, removed, failed, skipped, bytes }, durationMs: s.durationMs, dryRun: s.dryRun };
  }
}

/** Cut a text to at most `max` UTF-8 bytes, marking the cut. */
export function capBytes(text: string, max = MAX_BODY_BYTES): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  const mark = '\n[cut at 10 KB]\n';
  // toString drops a character split by the cut (it becomes U+FFFD, removed here).
  return `${bytes
    .subarray(0, max - Buffer.byteLength(mark))
    .toString('utf8')
    .replace(/\uFFFD$/, '')}${mark}`;
}

/** The human summary: a ping body, a hook's stdin (the body of a mail). */
export function summaryText(s: PassSummary): string {
  const lines = [
    `folder-sync pass ${s.result} (exit ${s.exitCode})${s.job ? ` job ${s.job}` : ''}${s.dryRun ? ' (dry run)' : ''}`,
    `source: ${s.source}`,
    `replica: ${s.replica}`,
  ];
  if (s.log) lines.push(`log: ${s.log}`);
  lines.push(`started: ${s.startedAt}, duration ${(s.durationMs / 1000).toFixed(3)}s`);
  if (s.counts) {
    const c = s.counts;
    lines.push(
      `${s.checked !== undefined ? `checked ${s.checked}, ` : ''}created ${c.created}, updated ${c.updated}, removed ${c.removed}, ` +
        `failed ${c.failed}, skipped ${c.skipped}, bytes ${c.bytes}`,
    );
  }
  if (s.message) lines.push(`message: ${oneLine(s.message)}`);
  if (s.errors.length > 0) lines.push(`first warnings and errors:`, ...s.errors.map((e) => `  ${e}`));
  return capBytes(`${lines.join('\n')}\n`);
}

/** The summary as one JSON object (FOLDER_SYNC_SUMMARY_JSON); over the size cap, without its error lines. */
export function summaryJson(s: PassSummary): string {
  const json = JSON.stringify(s);
  if (Buffer.byteLength(json) <= MAX_BODY_BYTES) return json;
  // Valid JSON over a cut one: drop the error lines (the log has them); paths alone stay whole.
  return JSON.stringify({ ...s, errors: [], truncated: true });
}
