import type { ConsolaReporter } from 'consola';
import { ConsoleReporter } from './log.js';
import { PROGRESS_EVERY_MS } from './sync/pass-report.js';
import type { SyncStats } from './sync/pass-stats.js';

/** Show nothing for passes shorter than this: a quick pass should print only its log lines. */
export const PROGRESS_DELAY_MS = 1000;

/** Back to the start of the line, and erase from the cursor to its end. */
const CR = '\r';
const ERASE_TO_END = '\x1b[K';

/** Thousands separators. Made on first use: building an Intl formatter loads ICU data (~10 ms of every CLI start). */
let numbers: Intl.NumberFormat | undefined;
const count = { format: (n: number): string => (numbers ??= new Intl.NumberFormat('en-US')).format(n) };

/** Binary units, one decimal: "0 B", "512 B", "1.5 KiB", "12.3 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The text of the live line: what has been checked and copied so far, and how fast. */
export function formatProgress(stats: Readonly<SyncStats>, elapsedMs: number): string {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const parts = [
    `${count.format(stats.checked)} checked`,
    `${count.format(stats.created)} created`,
    `${count.format(stats.updated)} updated`,
    `${count.format(stats.removed)} removed`,
  ];
  if (stats.failed > 0) parts.push(`${count.format(stats.failed)} failed`);
  const rate = `${formatBytes(Math.round(stats.bytes / seconds))}/s, ${count.format(Math.round(stats.checked / seconds))} entries/s`;
  return `folder-sync: ${parts.join(', ')}; ${formatBytes(stats.bytes)} copied (${rate}), ${seconds.toFixed(1)} s`;
}

/** The part of a terminal stream the progress line needs (process.stderr, or a fake in tests). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/**
 * One status line redrawn in place on a terminal. Nothing is drawn until the pass has run for `delayMs`.
 * `interrupt()` erases it before another line is printed and puts it back once that line is out;
 * `clear()` erases it for good (at the end of the pass).
 */
export class ProgressLine {
  private text: string | undefined;
  private drawn = false;
  private redrawQueued = false;
  private readonly started: number;

  constructor(
    private readonly stream: ProgressStream,
    private readonly delayMs = PROGRESS_DELAY_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  update(stats: Readonly<SyncStats>): void {
    const elapsed = this.now() - this.started;
    if (elapsed < this.delayMs) return;
    // One column short of the width: a line that wraps can no longer be erased with a carriage return.
    const width = Math.max((this.stream.columns || 80) - 1, 20);
    const text = formatProgress(stats, elapsed);
    this.text = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.draw();
  }

  /** Erase the line so another can be printed; redraw it right after (the pass awaits between entries). */
  interrupt(): void {
    if (!this.drawn) return;
    this.erase();
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    queueMicrotask(() => {
      this.redrawQueued = false;
      if (this.text !== undefined) this.draw();
    });
  }

  /** Erase the line for good. */
  clear(): void {
    this.text = undefined;
    if (this.drawn) this.erase();
  }

  private draw(): void {
    this.stream.write(`${CR}${this.text ?? ''}${ERASE_TO_END}`);
    this.drawn = true;
  }

  private erase(): void {
    this.stream.write(`${CR}${ERASE_TO_END}`);
    this.drawn = false;
  }
}

/**
 * A progress line on stderr when it is an interactive terminal and the console is not quiet; otherwise
 * undefined, so pipes, cron mail, log files and `--quiet` never see one.
 */
export function stderrProgress(options: { quiet?: boolean }): ProgressLine | undefined {
  if (options.quiet || !process.stderr.isTTY || process.env['TERM'] === 'dumb') return undefined;
  return new ProgressLine(process.stderr, progressDelay(process.env['FOLDER_SYNC_PROGRESS_DELAY_MS']));
}

/** FOLDER_SYNC_PROGRESS_DELAY_MS: how long a pass runs before the line appears (tests use 0); default 1000. */
export function progressDelay(value: string | undefined): number {
  return msFrom(value, PROGRESS_DELAY_MS);
}

/**
 * FOLDER_SYNC_PROGRESS_EVERY_MS: how often the pass hands its totals to the line; default 100. Tests use 0
 * (at every folder and every change), so even a pass of a few milliseconds draws it: no test depends on speed.
 */
export function progressEvery(value: string | undefined): number {
  return msFrom(value, PROGRESS_EVERY_MS);
}

function msFrom(value: string | undefined, fallback: number): number {
  const ms = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(ms) && ms >= 0 ? ms : fallback;
}

/**
 * The console reporter, made to erase the progress line before each line it prints on the same terminal
 * (warnings and errors go to stderr; other lines to stdout, which may be redirected elsewhere).
 */
export function consoleWithProgress(progress: ProgressLine | undefined, options: { quiet?: boolean; verbose?: boolean }): ConsolaReporter {
  if (!progress) return new ConsoleReporter(options);
  const stdoutIsTerminal = Boolean(process.stdout.isTTY);
  let toStderr = false;
  const console = new ConsoleReporter({
    ...options,
    onLine: () => {
      if (toStderr || stdoutIsTerminal) progress.interrupt();
    },
  });
  return {
    log(obj) {
      toStderr = obj.level <= 1; // ConsoleReporter's rule: warnings and errors to stderr
      console.log(obj);
    },
  };
}
