import type { ConsolaInstance } from 'consola';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { unpinWorkingFolder } from './working-folder.js';
import { emit, type Action, type Kind, type LogEvent } from '../log.js';
import { RefusedNameError } from './capabilities.js';
import { isUndecodableName, type Entry, type Listing, type ListIssue } from './entry.js';
import { emptyStats, type SyncStats } from './pass-stats.js';
import { isTempName } from './temp.js';

/** issue 14: where an entry the pass took out of the replica was kept (its pass folder, and its path there). */
export interface Kept {
  versions?: string;
  keptAs?: string;
  note?: string;
}

/** The copy pipeline of the latest pass (PassReport.holdWith): it holds lines only while that pass has some queued. */
let passHolder: { hold(line: () => void): boolean } | undefined;

/**
 * A line said from outside the pass while it runs (`run`'s "SIGTERM received: stopping after the current file"):
 * after the pass's own lines still held behind copies under way (copy-pipeline.ts), so it comes where it would
 * without them, after the lines of every file finished before it; at once when nothing is held.
 */
export function sayInPassOrder(line: () => void): void {
  if (!passHolder?.hold(line)) line();
}

/** Thrown inside a pass to stop it: the disk is full or the caller aborted. */
export class StopPass extends Error {}

/** How often a pass reports its running totals (and lets timers and signal handlers run), by default. */
export const PROGRESS_EVERY_MS = 100;

export function kindOf(entry: Entry): Kind {
  return entry.type === 'special' ? ((entry.special ?? 'special') as Kind) : entry.type;
}

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The error to report for a listed name Node cannot open again (not valid UTF-8), else the listing's own. */
function undecodable(issue: ListIssue): Error {
  return issue.error.code === 'ENOENT' && isUndecodableName(issue.name)
    ? new Error('the name is not valid UTF-8; it cannot be opened by name')
    : issue.error;
}

export interface PassReportOptions {
  dryRun: boolean;
  signal?: AbortSignal;
  onProgress?: (stats: Readonly<SyncStats>) => void;
  /** How often `onProgress` is called (default PROGRESS_EVERY_MS; 0: at every folder and change). */
  progressEveryMs?: number;
}

/**
 * What one pass has done and failed to do: every operation, failure and skip is counted in `stats` and logged
 * as one event, here and nowhere else. Also the pass's pulse: abort checks and progress callbacks.
 */
export class PassReport {
  readonly stats: SyncStats = emptyStats();
  private lastYield = performance.now();
  private lastProgress = this.lastYield;
  /** While copies are under way behind the walk (copy-pipeline.ts), log lines wait there for their turn. */
  private holder?: { hold(line: () => void): boolean };

  constructor(
    private readonly log: ConsolaInstance,
    private readonly opts: PassReportOptions,
  ) {}

  /** Log lines go through `holder` from now on (the walk's copy pipeline); so do `sayInPassOrder`'s. */
  holdWith(holder: { hold(line: () => void): boolean }): void {
    this.holder = holder;
    passHolder = holder;
  }

  private out(level: 'info' | 'warn' | 'error', event: LogEvent): void {
    if (!this.holder?.hold(() => emit(this.log, level, event))) emit(this.log, level, event);
  }

  op(action: Action, kind: Kind, path: string, extra: { size?: number; note?: string } & Kept = {}): void {
    this.stats[action]++;
    const event: LogEvent = { type: 'op', action, kind, path, ...extra };
    if (this.opts.dryRun) event.dryRun = true;
    this.out('info', event);
  }

  fail(kind: string, path: string, error: unknown): void {
    this.stats.failed++;
    this.out('error', { type: 'failed', kind, path, reason: describeError(error) });
  }

  skip(kind: string, path: string, reason: string): void {
    this.stats.skipped++;
    this.out('warn', { type: 'skipped', kind, path, reason });
  }

  /** A note on how the pass goes (not an operation): an info line, in its place among the others. */
  note(message: string): void {
    this.out('info', { type: 'note', message });
  }

  debug(message: string): void {
    if (!this.holder?.hold(() => this.log.debug(message))) this.log.debug(message);
  }

  /** Disk full stops the pass; an entry gone mid-pass (either side) is skipped; anything else is a per-entry failure. */
  handle(kind: string, rel: string, error: unknown): void {
    const code = errnoOf(error);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.fail(kind, rel, error);
      throw new StopPass(`the replica's disk is full (${code}) while writing ${JSON.stringify(rel)}`);
    }
    if (error instanceof StopPass) throw error;
    if (error instanceof RefusedNameError) return this.skip(kind, rel, error.message);
    // Deleted by someone else since it was listed: nothing left to mirror; the next pass sees the new state.
    if (code === 'ENOENT' && rel !== '.') this.skip(kind, rel, 'vanished while the pass ran');
    else this.fail(kind, rel, error);
  }

  /** A replica entry is gone (or, in a dry run, would be). A leftover temporary is this tool's own debris: debug only. */
  removed(entry: Entry, rel: string, kept: Kept = {}): void {
    if (entry.type !== 'dir' && isTempName(entry.name)) this.debug(`removed leftover temporary ${JSON.stringify(rel)}`);
    else this.op('removed', kindOf(entry), rel, kept);
  }

  /** Report the source entries that could not be looked at; returns their names, whose replica copies stay. */
  sourceIssues(rel: string, listing: Listing): Set<string> {
    const keep = new Set<string>();
    for (const issue of listing.issues) {
      const path = join(rel, issue.name);
      if (issue.error.code === 'ENOENT' && isUndecodableName(issue.name)) {
        this.fail('entry', path, undecodable(issue));
      } else if (issue.error.code === 'ENOENT') {
        this.skip('entry', path, 'vanished while the pass ran');
      } else {
        this.fail('entry', path, issue.error);
      }
      keep.add(issue.name); // never delete the replica's copy of something we could not read
    }
    return keep;
  }

  /** Report replica entries a listing could not look at (vanished ones aside); returns how many. */
  replicaIssues(rel: string, listing: Listing): number {
    let count = 0;
    for (const issue of listing.issues) {
      if (issue.error.code === 'ENOENT' && !isUndecodableName(issue.name)) continue; // gone already: nothing to remove
      this.handle('entry', join(rel, issue.name), undecodable(issue));
      count++;
    }
    return count;
  }

  /** Called between entries: stop when aborted; now and then report progress and let timers and signals run. */
  async breathe(): Promise<void> {
    if (this.opts.signal?.aborted) throw new StopPass('the pass was interrupted');
    const now = performance.now();
    if (this.opts.onProgress && now - this.lastProgress >= (this.opts.progressEveryMs ?? PROGRESS_EVERY_MS)) {
      this.lastProgress = now;
      unpinWorkingFolder(); // the caller's code sees its own working folder, not one the walk pinned
      this.opts.onProgress(this.stats);
    }
    // The work itself is synchronous for speed.
    if (now - this.lastYield > PROGRESS_EVERY_MS) {
      this.lastYield = now;
      unpinWorkingFolder(); // timers and signal handlers run now: they get the process's own working folder
      // Two turns: a yield made while the event loop runs its immediates runs the next one in that same phase,
      // before the loop polls for a signal that came meanwhile (a SIGTERM during a long copy was seen only at the
      // next yield, or after the pass). The second immediate comes after a poll.
      await new Promise<void>((r) => setImmediate(r));
      await new Promise<void>((r) => setImmediate(r));
      if (this.opts.signal?.aborted) throw new StopPass('the pass was interrupted');
    }
  }
}
