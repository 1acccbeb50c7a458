/**
 * Logging: the events a pass and a run report (LogEvent), how each reads as one line of text (formatEvent,
 * with names quoted by quotePath/oneLine so no file name can break or forge a line), and the two consola
 * reporters that print them: ConsoleReporter (stdout for info, stderr for warnings and errors) and FileReporter
 * (a log file, text or JSON Lines). The engine gets a consola instance (createLogger) and never knows which
 * reporters are behind it. Opening a pass's log file and writing a refusal into it: pass-log.ts.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConsolaInstance, ConsolaReporter, LogObject } from 'consola';
// consola/core: the instance without consola's own reporters (ours are below), ~15 ms less start-up than 'consola'.
import { createConsola } from 'consola/core';
import { describeError } from './errors.js';
import type { SyncStats } from './sync/pass-stats.js';

export type Action = 'created' | 'updated' | 'removed';
/** What an operation acted on; the special kinds appear only when a replica's FIFO, socket or device is removed. */
export type Kind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char-device' | 'block-device' | 'special';
export type LogFormat = 'text' | 'json';

/**
 * The structured payload a log line carries. The core and `run` log events through `emit`, which passes one
 * to consola as `{ args: [], event }`; reporters decide how to render it.
 */
export type LogEvent =
  | {
      type: 'op';
      action: Action;
      kind: Kind;
      path: string;
      size?: number;
      note?: string;
      dryRun?: boolean;
      /** issue 14: the pass folder the replaced or removed entry was kept in, and where it is now. */
      versions?: string;
      keptAs?: string;
    }
  | { type: 'skipped'; kind: string; path: string; reason: string }
  | { type: 'failed'; kind: string; path: string; reason: string }
  /** `filter`: the exclude rules in force (docs/filters.md); `replicaFs`: what the replica's file system does not keep. */
  | { type: 'start'; source: string; replica: string; mode: string; dryRun: boolean; filter?: string; replicaFs?: string; versions?: string }
  | ({ type: 'summary'; durationMs: number; dryRun: boolean } & SyncStats)
  | { type: 'note'; [key: string]: unknown };

/** Log one event at a level: the one way the core and `run` write an event (reporters render it). */
export function emit(log: ConsolaInstance, level: 'info' | 'warn' | 'error' | 'debug', event: LogEvent): void {
  log[level]({ args: [], event });
}

/** Quote a path so that no byte of a file name can break or forge a log line (newlines, quotes, control characters). */
export function quotePath(path: string): string {
  return oneLine(JSON.stringify(path));
}

/**
 * What must never reach a terminal or a log line raw: C0 and C1 controls (ESC, CSI), the Unicode line and
 * paragraph separators, and the bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069
 * isolates, and the LRM/RLM/ALM marks) that can make a name read as another. JSON.stringify leaves most as they are.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The ones JSON.stringify writes raw (it escapes C0 itself; the layout's line breaks must stay). */
const NOT_ESCAPED_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Escape what could end, fake or disguise a line in free text (paths, reasons, messages). Idempotent on quoted paths. */
export function oneLine(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Text for the terminal, line by line: each line escaped like the log (the line breaks themselves kept). */
export function terminalText(text: string): string {
  return text.split('\n').map(oneLine).join('\n');
}

/**
 * JSON for the terminal: the characters above written as \\u escapes, which inside JSON strings mean exactly the
 * same characters (JSON.stringify already escapes C0 controls), so a script reads the real names.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(NOT_ESCAPED_BY_JSON, escapeChar);
}

/** The human text of an event, shared by the console and the text log file. */
export function formatEvent(event: LogEvent): string {
  switch (event.type) {
    case 'op': {
      const kept = event.versions && `${event.action === 'updated' ? 'previous kept' : 'kept'} in versions ${event.versions}`;
      const extra = [event.note, kept, event.dryRun ? 'dry run' : undefined].filter(Boolean).join(', ');
      return `${event.action} ${event.kind} ${quotePath(event.path)}${extra ? ` (${extra})` : ''}`;
    }
    case 'skipped':
      return `skipped ${event.kind} ${quotePath(event.path)}: ${event.reason}`;
    case 'failed':
      return `failed ${event.kind} ${quotePath(event.path)}: ${event.reason}`;
    case 'start':
      return `pass started${event.dryRun ? ' (dry run)' : ''}: source ${quotePath(event.source)} replica ${quotePath(event.replica)} mode ${event.mode}${event.versions ? ` versions ${quotePath(event.versions)}` : ''}${event.filter ? `, filter: ${event.filter}` : ''}${event.replicaFs ? `; ${event.replicaFs}` : ''}`;
    case 'summary':
      return (
        `pass finished${event.dryRun ? ' (dry run)' : ''}: created ${event.created}, updated ${event.updated}, ` +
        `removed ${event.removed}, failed ${event.failed}, skipped ${event.skipped}, ` +
        `bytes ${event.bytes}, duration ${(event.durationMs / 1000).toFixed(3)}s`
      );
    default:
      return String(event['message'] ?? '');
  }
}

function levelName(obj: LogObject): string {
  if (obj.level <= 0) return 'ERROR';
  if (obj.level === 1) return 'WARN';
  if (obj.level >= 4) return 'DEBUG';
  return 'INFO';
}

/** One line of text, whatever names or error messages it carries. */
function messageOf(obj: LogObject): string {
  const event = obj['event'] as LogEvent | undefined;
  if (event) return oneLine(formatEvent(event));
  return oneLine(obj.args.map((a) => (a instanceof Error ? describeError(a) : String(a))).join(' '));
}

/** Lines to stdout (info) and stderr (warnings, errors); plain text so scripts and cron mail can read it. */
export class ConsoleReporter implements ConsolaReporter {
  constructor(private readonly opts: { quiet?: boolean; verbose?: boolean; silent?: boolean; onLine?: () => void } = {}) {}
  log(obj: LogObject): void {
    if (this.opts.silent) return;
    if (obj.level >= 4 && !this.opts.verbose) return;
    if (obj.level >= 2 && obj.level < 4 && this.opts.quiet) return;
    this.opts.onLine?.();
    const text = messageOf(obj);
    if (obj.level <= 1) {
      process.stderr.write(`${obj.level <= 0 ? 'error' : 'warning'}: ${text}\n`);
    } else {
      process.stdout.write(`${text}\n`);
    }
  }
}

/**
 * Appends every event but debug to a log file: `<ISO-8601> <LEVEL> <text>` or one JSON object per line.
 * Lines are buffered and written at 64 KiB, at every warning or error, on flush() and at close. A write that
 * fails never throws into the pass: it sets `failure`, calls `onFailure` once and drops later lines.
 */
export class FileReporter implements ConsolaReporter {
  private fd: number | undefined;
  private buffer = '';
  /** Set when the file could not be written; the pass goes on and the exit code reports it. */
  failure: string | undefined;

  constructor(
    readonly path: string,
    private readonly format: LogFormat = 'text',
    private readonly onFailure?: (reason: string) => void,
  ) {}

  /**
   * Open for appending, creating parent folders. Throws (the caller turns that into a guard refusal). Without
   * blocking: a FIFO put in the log's place after the guards checked it fails here instead of hanging the pass;
   * anything but a regular file is refused.
   */
  open(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NONBLOCK ?? 0);
    const fd = openSync(this.path, flags, 0o666);
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw Object.assign(new Error('not a regular file (a FIFO, device or socket)'), { code: 'EINVAL' });
    }
    this.fd = fd;
  }

  log(obj: LogObject): void {
    if (obj.level >= 4) return; // debug stays on the console
    if (this.failure !== undefined) return; // nothing can be written: do not let the buffer grow (long `run`s)
    const event = obj['event'] as LogEvent | undefined;
    const time = obj.date.toISOString();
    if (this.format === 'json') {
      const record: Record<string, unknown> = { time, level: levelName(obj).toLowerCase() };
      if (event) Object.assign(record, event);
      else record['type'] = 'message';
      record['message'] = messageOf(obj);
      this.buffer += `${JSON.stringify(record)}\n`;
    } else {
      this.buffer += `${time} ${levelName(obj)} ${messageOf(obj)}\n`;
    }
    if (this.buffer.length >= 65536 || obj.level <= 1) this.flush();
  }

  flush(): void {
    if (this.fd === undefined || this.failure !== undefined || this.buffer === '') return;
    const data = Buffer.from(this.buffer);
    this.buffer = '';
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off);
    } catch (error) {
      this.failure = describeError(error);
      this.onFailure?.(this.failure);
    }
  }

  /**
   * Close the file and open it again at its path: after logrotate renamed it (SIGHUP in `run`), new lines go
   * to a new file at the original path. Also retries a file that failed; throws when it cannot be opened.
   */
  reopen(): void {
    this.close();
    this.failure = undefined;
    try {
      this.open();
    } catch (error) {
      this.failure = describeError(error);
      throw error;
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // the data is written or the failure already recorded
      }
      this.fd = undefined;
    }
  }
}

/** A consola instance with no throttling (every operation must reach the log, repeated or not). */
export function createLogger(reporters: ConsolaReporter[], level = 4): ConsolaInstance {
  return createConsola({ reporters, level, throttle: 0, formatOptions: { date: false, colors: false } });
}

/** The default logger of the public API: console only, info and above. */
export function defaultLogger(): ConsolaInstance {
  return createLogger([new ConsoleReporter()], 3);
}
