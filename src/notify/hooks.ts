/**
 * `--on-success` / `--on-failure`: a user's command run through the shell (/bin/sh, cmd.exe on Windows) after a
 * pass, with the outcome in FOLDER_SYNC_* variables and the summary text on stdin (so `mail -s ... me@host`
 * mails it), under a timeout; what it prints goes into the pass's log, line by line.
 */
import { execa } from 'execa';
import type { PassSummary } from './outcome.js';
import { summaryJson, summaryText } from './outcome.js';

export type HookKind = 'on-success' | 'on-failure';

/** The variables a hook sees. Counts are empty strings for a pass that did not run (refused, busy). */
export function hookEnv(s: PassSummary, kind: HookKind): Record<string, string> {
  const c = s.counts;
  const count = (n: number | undefined): string => (n === undefined ? '' : String(n));
  return {
    FOLDER_SYNC_EVENT: kind === 'on-success' ? 'success' : 'failure',
    FOLDER_SYNC_RESULT: s.result,
    FOLDER_SYNC_EXIT_CODE: String(s.exitCode),
    FOLDER_SYNC_JOB: s.job ?? '',
    FOLDER_SYNC_SOURCE: s.source,
    FOLDER_SYNC_REPLICA: s.replica,
    FOLDER_SYNC_LOG: s.log ?? '',
    FOLDER_SYNC_STARTED_AT: s.startedAt,
    FOLDER_SYNC_DURATION_MS: String(Math.round(s.durationMs)),
    FOLDER_SYNC_CHECKED: count(s.checked),
    FOLDER_SYNC_CREATED: count(c?.created),
    FOLDER_SYNC_UPDATED: count(c?.updated),
    FOLDER_SYNC_REMOVED: count(c?.removed),
    FOLDER_SYNC_FAILED: count(c?.failed),
    FOLDER_SYNC_SKIPPED: count(c?.skipped),
    FOLDER_SYNC_BYTES: count(c?.bytes),
    FOLDER_SYNC_MESSAGE: s.message ?? '',
    FOLDER_SYNC_SUMMARY: summaryText(s),
    FOLDER_SYNC_SUMMARY_JSON: summaryJson(s),
  };
}

export interface HookResult {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  /** What the hook printed (stdout and stderr interleaved), at most MAX_OUTPUT_LINES lines. */
  lines: string[];
  /** Lines dropped beyond the cap. */
  dropped: number;
  /** The hook could not be started at all. */
  error?: string;
}

const MAX_OUTPUT_LINES = 200;

export function hookTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['FOLDER_SYNC_HOOK_TIMEOUT_MS'];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : 60_000;
}

/**
 * Run a hook and wait for it, at most `timeoutMs`: then its whole process group is killed (a `sleep` started by
 * the hook's shell must not keep the pass waiting on an open pipe). Never throws.
 */
export async function runHook(command: string, env: Record<string, string>, stdin: string, timeoutMs: number): Promise<HookResult> {
  const windows = process.platform === 'win32';
  const child = execa(command, {
    shell: true,
    env,
    extendEnv: true,
    input: stdin,
    all: true,
    reject: false,
    stripFinalNewline: true,
    maxBuffer: 1024 * 1024,
    // Its own process group on POSIX, so the timeout can end the shell and everything it started.
    detached: !windows,
    windowsHide: true,
  });
  let timedOut = false;
  const kill = (signal: NodeJS.Signals): void => {
    try {
      if (!windows && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), 2_000).unref();
  }, timeoutMs);
  try {
    const r = await child;
    const all = typeof r.all === 'string' ? r.all : '';
    const lines = all === '' ? [] : all.split(/\r?\n/);
    if (r.failed && r.exitCode === undefined && r.signal === undefined && !timedOut) {
      return { timedOut, lines: [], dropped: 0, error: r.shortMessage ?? r.message };
    }
    return {
      ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      ...(r.signal !== undefined ? { signal: r.signal } : {}),
      timedOut,
      lines: lines.slice(0, MAX_OUTPUT_LINES),
      dropped: Math.max(0, lines.length - MAX_OUTPUT_LINES),
    };
  } finally {
    clearTimeout(timer);
  }
}
