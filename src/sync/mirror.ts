import { accessSync, constants, mkdirSync, opendirSync, statSync, type Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { describeError, ExitCode, RefusedError } from '../errors.js';
import { createLogger, defaultLogger, type Action, type Kind, type LogEvent } from '../log.js';
import {
  copyToTemp,
  discardTemp,
  ensureOwnerAccess,
  folderId,
  installTemp,
  makeDir,
  removeEmptyDir,
  removeNonDir,
  ReplicaChangedError,
  setMeta,
  setMode,
  SourceChangedError,
  symlinkToTemp,
} from './apply.js';
import { sameContents } from './compare.js';
import { entryFromStats, isUndecodableName, listDir, lstatEntry, type Entry, type Listing, type ListIssue } from './entry.js';
import { checkPassPaths, type PassPaths } from './guards.js';
import { ReplicaPrefetch } from './prefetch.js';
import { ReplicaLock } from './lock.js';
import { afterCompare, metaDiff, planDir, type Step } from './plan.js';
import { isTempName } from './temp.js';

export interface SyncOptions {
  /** Compare contents (every byte) when sizes match, not only size and mtime. */
  checksum?: boolean;
  /** Log what would be done, change nothing. */
  dryRun?: boolean;
  /** Refuse the whole pass if it would remove more than this many entries. */
  maxDelete?: number;
  /** Allow an empty source to empty a non-empty replica. */
  allowEmptySource?: boolean;
  /** Where events go; defaults to the console. */
  logger?: ConsolaInstance;
  /** Take the replica's lock (default true; `run` holds it itself and passes false). */
  lock?: boolean;
  /** Stop between files when aborted (SIGTERM in `run`). */
  signal?: AbortSignal;
  /** Called with the running totals about ten times a second while the pass runs (progress display). */
  onProgress?: (stats: Readonly<SyncStats>) => void;
}

export interface SyncStats {
  /** Source entries examined so far. */
  checked: number;
  created: number;
  updated: number;
  removed: number;
  failed: number;
  skipped: number;
  bytes: number;
}

export interface SyncResult extends SyncStats {
  durationMs: number;
  /** 0 complete, 1 some entries failed. Refusals and busy replicas throw instead. */
  exitCode: ExitCode;
  /** Set when the pass stopped early (disk full, aborted). */
  stoppedBy?: string;
}

/**
 * The replica lister thread is experimental and off by default: on the shared 2-core machine it was measured
 * (load 5-7) it made the no-op pass slower, not faster (bench/PROFILING.md). FOLDER_SYNC_PREFETCH_AFTER_MS=<ms>
 * turns it on for passes that run longer than that (tests use 0; 150 is the value to try on an idle machine).
 */
const PREFETCH_AFTER_MS = Number(process.env['FOLDER_SYNC_PREFETCH_AFTER_MS'] ?? Number.POSITIVE_INFINITY);

/** Thrown inside a pass to stop it: the disk is full or the caller aborted. */
class StopPass extends Error {}

function kindOf(entry: Entry): Kind {
  return entry.type === 'special' ? ((entry.special ?? 'special') as Kind) : entry.type;
}

/** The error to report for a listed name Node cannot open again (not valid UTF-8), else the listing's own. */
function undecodable(issue: ListIssue): Error {
  return issue.error.code === 'ENOENT' && isUndecodableName(issue.name)
    ? new Error('the name is not valid UTF-8; it cannot be opened by name')
    : issue.error;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** One mirror pass over a tree: walk both sides a folder at a time, plan each folder, apply the plan. */
class MirrorPass {
  readonly stats: SyncStats = { checked: 0, created: 0, updated: 0, removed: 0, failed: 0, skipped: 0, bytes: 0 };
  /** Counting pass only: replica folders it could not list, so it cannot say how much they would lose. */
  readonly uncountable: string[] = [];
  private lastYield = performance.now();

  constructor(
    private readonly log: ConsolaInstance,
    private readonly opts: {
      checksum: boolean;
      dryRun: boolean;
      countOnly: boolean;
      signal?: AbortSignal;
      onProgress?: (stats: Readonly<SyncStats>) => void;
      /** Replica root: a pass that runs long enough lists the replica ahead on the second core. */
      replicaRoot?: string;
    },
  ) {}

  op(action: Action, kind: Kind, path: string, extra: { size?: number; note?: string } = {}): void {
    this.stats[action]++;
    if (this.opts.countOnly) return;
    const event: LogEvent = { type: 'op', action, kind, path, ...extra };
    if (this.opts.dryRun) event.dryRun = true;
    this.log.info({ args: [], event });
  }

  private fail(kind: string, path: string, error: unknown): void {
    this.stats.failed++;
    if (this.opts.countOnly) return;
    this.log.error({ args: [], event: { type: 'failed', kind, path, reason: describeError(error) } });
  }

  private warnSkip(kind: string, path: string, reason: string): void {
    this.stats.skipped++;
    if (this.opts.countOnly) return;
    this.log.warn({ args: [], event: { type: 'skipped', kind, path, reason } });
  }

  private debug(message: string): void {
    if (!this.opts.countOnly) this.log.debug(message);
  }

  /** Disk full stops the pass; an entry gone mid-pass (either side) is skipped; anything else is a per-entry failure. */
  handle(kind: string, rel: string, error: unknown): void {
    const code = errnoOf(error);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.fail(kind, rel, error);
      throw new StopPass(`the replica's disk is full (${code}) while writing ${JSON.stringify(rel)}`);
    }
    if (error instanceof StopPass) throw error;
    // Deleted by someone else since it was listed: nothing left to mirror; the next pass sees the new state.
    if (code === 'ENOENT' && rel !== '.') this.warnSkip(kind, rel, 'vanished while the pass ran');
    else this.fail(kind, rel, error);
  }

  private async breathe(): Promise<void> {
    if (this.opts.signal?.aborted) throw new StopPass('the pass was interrupted');
    const now = performance.now();
    // Let timers and signal handlers run now and then; the work itself is synchronous for speed.
    if (now - this.lastYield > 100) {
      this.lastYield = now;
      this.opts.onProgress?.(this.stats);
      await new Promise<void>((r) => setImmediate(r));
      if (this.opts.signal?.aborted) throw new StopPass('the pass was interrupted');
    }
  }

  /** Report the source entries that could not be looked at; returns their names, whose replica copies stay. */
  private sourceIssues(rel: string, listing: Listing): Set<string> {
    const keep = new Set<string>();
    for (const issue of listing.issues) {
      const path = join(rel, issue.name);
      if (issue.error.code === 'ENOENT' && isUndecodableName(issue.name)) {
        this.fail('entry', path, undecodable(issue));
      } else if (issue.error.code === 'ENOENT') {
        this.warnSkip('entry', path, 'vanished while the pass ran');
      } else {
        this.fail('entry', path, issue.error);
      }
      keep.add(issue.name); // never delete the replica's copy of something we could not read
    }
    return keep;
  }

  /**
   * Mirror one folder whose source listing is already taken. `dst` is the replica folder's entry as listed
   * before any change (undefined when it does not exist yet, only possible in a dry run); `fresh` when this
   * pass just created it (empty and owner-writable). Returns true when anything inside was changed.
   */
  async mirrorDir(rel: string, srcPath: string, dstPath: string, srcListing: Listing, dst: Entry | undefined, fresh = false): Promise<boolean> {
    await this.breathe();
    const keep = this.sourceIssues(rel, srcListing);
    const srcEntries = srcListing.entries;

    let dstEntries: Entry[] = [];
    let dstMode = dst?.mode ?? 0o700;
    let opened = fresh;
    if (dst && !fresh) {
      const listed = this.listReplica(rel || '.', dstPath, dstMode);
      if (!listed) return false;
      dstEntries = listed.entries;
      if (listed.opened) {
        opened = true;
        dstMode |= 0o700;
      }
      if (keep.size) dstEntries = dstEntries.filter((e) => !keep.has(e.name));
    }

    this.stats.checked += srcEntries.length;
    // Best effort against a folder swapped for a link mid-pass: its identity is re-checked before each change.
    const home = this.opts.dryRun || this.opts.countOnly ? undefined : folderId(dstPath);
    let changed = false;
    for (const planned of planDir(srcEntries, dstEntries, { checksum: this.opts.checksum })) {
      await this.breathe();
      let step: Step | undefined = planned;
      const entry = 'src' in step ? step.src : step.dst;
      try {
        // Contents decide first, so a re-copy below opens a read-only folder like any other change.
        if (step.op === 'compare') step = this.opts.countOnly ? undefined : await this.compare(step, srcPath, dstPath);
        if (!step) continue;
        if (home !== undefined && step.op !== 'skip') {
          const now = folderId(dstPath);
          if (now !== home) {
            if (now === 'gone') this.warnSkip('dir', rel || '.', 'vanished while the pass ran');
            else this.fail('dir', rel || '.', new ReplicaChangedError(dstPath));
            return false; // and its metadata is not touched either
          }
        }
        if (!this.opts.dryRun && !opened && step.op !== 'descend' && step.op !== 'skip' && step.op !== 'meta') {
          // First change in this folder: make sure its owner can write it (read-only folders are still mirrored).
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        if (await this.apply(step, rel, srcPath, dstPath)) changed = true;
      } catch (error) {
        this.handle(kindOf(entry), join(rel, entry.name), error);
        if (step && step.op !== 'descend' && step.op !== 'skip') changed = true;
      }
    }
    // Opening the folder changed its mode: the caller must restore it even if nothing else changed.
    return changed || opened;
  }

  /** Replica listings taken ahead on the second core, once the pass has run PREFETCH_AFTER_MS (off by default). */
  prefetch: ReplicaPrefetch | undefined;
  private readonly started = performance.now();

  /** A replica folder's listing: from the lister thread when it has it, else listed here. */
  private listReplicaFolder(rel: string, path: string): Listing {
    const root = this.opts.replicaRoot;
    if (root !== undefined && !this.prefetch && performance.now() - this.started >= PREFETCH_AFTER_MS) {
      // Small passes (most scheduled ones) never pay for a thread; big ones hand the replica's walk to it.
      this.prefetch = ReplicaPrefetch.start(root, rel);
      this.opts.replicaRoot = undefined;
    }
    const taken = this.prefetch?.take(rel);
    // Used only if the folder is still the one the lister listed (not swapped for another folder or a link).
    if (taken && taken.id === folderId(path)) return { entries: taken.entries, issues: [] };
    return listDir(path);
  }

  /**
   * List a replica folder. One its owner cannot list or search (mode 0, or r-- without x) is opened first,
   * except in a dry run, which says so and does not look inside. Undefined when it cannot be listed (reported).
   */
  private listReplica(rel: string, path: string, mode: number): { entries: Entry[]; opened: boolean } | undefined {
    let denied: unknown;
    try {
      const listing = this.listReplicaFolder(rel === '.' ? '' : rel, path);
      denied = listing.issues.find((i) => i.error.code === 'EACCES')?.error;
      if (denied === undefined) {
        if (!this.opts.countOnly) this.replicaIssues(rel === '.' ? '' : rel, listing);
        return { entries: listing.entries, opened: false };
      }
    } catch (error) {
      if (errnoOf(error) !== 'EACCES') {
        if (this.opts.countOnly) this.uncountable.push(rel);
        this.handle('dir', rel, error);
        return undefined;
      }
      denied = error;
    }
    if (this.opts.countOnly) {
      this.uncountable.push(rel);
      return undefined;
    }
    if (this.opts.dryRun) {
      // A real pass opens it; a dry run may not change its mode to look inside.
      this.warnSkip('dir', rel, 'cannot be listed without opening it (a real pass does); not looked into');
      return undefined;
    }
    if (!ensureOwnerAccess(path, mode)) {
      this.handle('dir', rel, denied); // its owner can already list it: not ours to open
      return undefined;
    }
    try {
      return { entries: listDir(path).entries, opened: true };
    } catch (error) {
      this.handle('dir', rel, error);
      setMode(path, mode);
      return undefined;
    }
  }

  /** --checksum: compare both files by hash, block by block; an unreadable replica copy counts as different. */
  private async compare(step: Extract<Step, { op: 'compare' }>, srcDir: string, dstDir: string): Promise<Step | undefined> {
    const { src, dst } = step;
    return afterCompare(src, dst, await sameContents(join(srcDir, src.name), join(dstDir, dst.name), src.size));
  }

  /** Apply one step; returns true when the replica folder was changed. */
  private async apply(step: Step, rel: string, srcDir: string, dstDir: string): Promise<boolean> {
    const dry = this.opts.dryRun;
    switch (step.op) {
      case 'copy': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        if (dry) {
          if (step.replace) await this.clearFor(target, path, step.replace);
        } else {
          // Copy first, then clear the way: a source file that cannot be read leaves the replica's entry alone.
          await this.install(this.copyWithRetry(join(srcDir, src.name), dstDir, src, path), target, path, step.replace);
        }
        this.stats.bytes += src.size;
        this.op(step.dst ? 'updated' : 'created', 'file', path, { size: src.size });
        return true;
      }
      case 'compare':
        return false; // resolved by mirrorDir before apply
      case 'meta': {
        const { src, dst } = step;
        if (!dry) setMeta(join(dstDir, src.name), src, src.mode !== dst.mode);
        this.op('updated', 'file', join(rel, src.name), { note: `metadata: ${metaDiff(src, dst).join(', ')}` });
        return true;
      }
      case 'mkdir': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        if (this.opts.countOnly) {
          // Nothing below a new folder can be removed: count the entry it replaces, skip the walk.
          if (step.replace) await this.removeEntry(target, path, step.replace);
          this.op('created', 'dir', path);
          return true;
        }
        // List the source first: an unreadable source folder leaves the replica's entry alone.
        const listing = listDir(join(srcDir, src.name));
        if (step.replace) await this.removeEntry(target, path, step.replace);
        if (!dry) makeDir(target);
        this.op('created', 'dir', path);
        const placeholder: Entry | undefined = dry ? undefined : { ...src, mode: 0o700, mtimeMs: -1 };
        await this.mirrorDir(path, join(srcDir, src.name), target, listing, placeholder, !dry);
        if (!dry) setMeta(target, src, true);
        return true;
      }
      case 'descend': {
        const { src, dst } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        // An unreadable source folder throws here: its replica copy and everything below it stay as they are.
        const listing = listDir(join(srcDir, src.name));
        const inner = await this.mirrorDir(path, join(srcDir, src.name), target, listing, dst);
        const diff = metaDiff(src, dst);
        if (diff.length > 0 || inner) {
          if (!dry) setMeta(target, src, src.mode !== dst.mode || inner);
          if (diff.length > 0) this.op('updated', 'dir', path, { note: `metadata: ${diff.join(', ')}` });
        }
        return false; // a subfolder's metadata does not touch this folder's mtime
      }
      case 'symlink': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        if (dry) {
          if (step.replace) await this.clearFor(target, path, step.replace);
        } else {
          await this.install(symlinkToTemp(dstDir, src.target ?? ''), target, path, step.replace);
        }
        this.op(step.dst ? 'updated' : 'created', 'symlink', path);
        return true;
      }
      case 'skip':
        this.warnSkip(kindOf(step.src), join(rel, step.src.name), 'not a regular file, folder or symlink');
        return false;
      case 'remove':
        await this.removeEntry(join(dstDir, step.dst.name), join(rel, step.dst.name), step.dst);
        return true;
      case 'purge-temp':
        if (!dry) removeNonDir(join(dstDir, step.dst.name));
        this.debug(`removed leftover temporary ${JSON.stringify(join(rel, step.dst.name))}`);
        return true;
    }
  }

  /** Rename a finished temporary into place, after clearing an entry of another type out of the way. */
  private async install(tmp: string, target: string, rel: string, replace: Entry | undefined): Promise<void> {
    try {
      if (replace) await this.clearFor(target, rel, replace);
    } catch (error) {
      discardTemp(tmp);
      throw error;
    }
    installTemp(tmp, target);
  }

  /**
   * Make way for an entry of another type. A folder is removed (with its contents); anything else is replaced
   * by the rename that installs the new entry, atomically, so here it is only logged.
   */
  private async clearFor(target: string, rel: string, old: Entry): Promise<void> {
    if (old.type === 'dir') await this.removeEntry(target, rel, old);
    else this.logRemoved(old, rel);
  }

  private copyWithRetry(srcPath: string, dstDir: string, src: Entry, rel: string): string {
    try {
      return copyToTemp(srcPath, dstDir, src);
    } catch (error) {
      if (!(error instanceof SourceChangedError)) throw error;
      // Changed under us: take a fresh look and try once more; a second change is reported as failed.
      const fresh = lstatEntry(srcPath, src.name);
      if (fresh.type !== 'file') throw error;
      Object.assign(src, fresh);
      const tmp = copyToTemp(srcPath, dstDir, src);
      this.debug(`${JSON.stringify(rel)} changed during the copy; copied again`);
      return tmp;
    }
  }

  /** Remove a replica entry and, for a folder, everything below it (each one logged); links are unlinked, never followed. */
  private async removeEntry(path: string, rel: string, entry: Entry): Promise<boolean> {
    if (entry.type === 'dir') {
      await this.breathe();
      let listing: Listing | undefined;
      let denied: unknown;
      try {
        listing = listDir(path);
        denied = listing.issues.find((i) => i.error.code === 'EACCES')?.error;
      } catch (error) {
        if (errnoOf(error) !== 'EACCES') throw error;
        denied = error;
      }
      if (denied !== undefined || !listing) {
        if (this.opts.countOnly) {
          this.uncountable.push(rel);
          throw denied;
        }
        if (this.opts.dryRun) {
          // A real pass opens and empties it; a dry run cannot look inside without changing its mode.
          this.op('removed', 'dir', rel, { note: 'contents not listed' });
          return true;
        }
        ensureOwnerAccess(path, entry.mode);
        listing = listDir(path);
      }
      const children = listing.entries;
      // Entries that could not even be looked at (a path past PATH_MAX): reported, and their folder stays.
      let kept = this.replicaIssues(rel, listing);
      // Its children can only be unlinked from a writable folder (read-only folders are removed all the same).
      if (!this.opts.dryRun && children.length > 0) ensureOwnerAccess(path, entry.mode);
      for (const child of children) {
        try {
          if (!(await this.removeEntry(join(path, child.name), join(rel, child.name), child))) kept++;
        } catch (error) {
          this.handle(kindOf(child), join(rel, child.name), error);
          kept++;
        }
      }
      // Something inside stays (each one reported): the folder stays too, without a "not empty" line per level.
      if (kept > 0) return false;
      if (!this.opts.dryRun) removeEmptyDir(path);
    } else if (!this.opts.dryRun) {
      removeNonDir(path);
    }
    this.logRemoved(entry, rel);
    return true;
  }

  /** Report replica entries a listing could not look at (vanished ones aside); returns how many. */
  private replicaIssues(rel: string, listing: Listing): number {
    let count = 0;
    for (const issue of listing.issues) {
      if (issue.error.code === 'ENOENT' && !isUndecodableName(issue.name)) continue; // gone already: nothing to remove
      this.handle('entry', join(rel, issue.name), undecodable(issue));
      count++;
    }
    return count;
  }

  private logRemoved(entry: Entry, rel: string): void {
    // A leftover temporary is this tool's own debris, not a user's entry: not counted, debug only.
    if (entry.type !== 'dir' && isTempName(entry.name)) this.debug(`removed leftover temporary ${JSON.stringify(rel)}`);
    else this.op('removed', kindOf(entry), rel);
  }
}

/** Entry for a folder root (source or replica), following a link the user named on the command line. */
function rootEntry(path: string): Entry {
  return entryFromStats('', statSync(path, { bigint: true }));
}

/** Create a missing replica: parents get the usual mode, the replica starts owner-only (the source's mode comes last). */
function createReplicaRoot(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    mkdirSync(path, 0o700);
  } catch (error) {
    throw new RefusedError(`replica folder cannot be created: ${path}: ${describeError(error)}`);
  }
}

/** True when the folder holds at least one entry `accept` takes; reads only as far as the first one. */
function hasEntry(path: string, accept: (entry: Dirent) => boolean): boolean {
  const dir = opendirSync(path);
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) if (accept(entry)) return true;
    return false;
  } finally {
    dir.closeSync();
  }
}

const isMirrored = (e: Dirent): boolean => e.isFile() || e.isDirectory() || e.isSymbolicLink();

/** Guard: an empty source must not silently empty a full replica (an unmounted disk looks empty). */
function checkEmptySource(paths: PassPaths): void {
  if (paths.replicaMissing || hasEntry(paths.source, isMirrored)) return;
  let replicaHolds: boolean;
  try {
    replicaHolds = hasEntry(paths.replica, (e) => !isTempName(e.name));
  } catch {
    replicaHolds = true; // cannot tell: assume the worst
  }
  if (replicaHolds) {
    throw new RefusedError(
      `source ${paths.source} is empty but the replica ${paths.replica} is not; refusing to empty it ` +
        `(is a disk unmounted? pass --allow-empty-source to mirror an empty source)`,
    );
  }
}

/**
 * Guard: a replica folder this user may not write and cannot open up (not its owner) would fail every entry
 * one by one; refuse it up front with one line instead. A read-only replica the user owns is still mirrored.
 */
function checkReplicaWritable(paths: PassPaths): void {
  if (paths.replicaMissing) return; // creating it is its own check
  try {
    accessSync(paths.replica, constants.W_OK | constants.X_OK);
    return;
  } catch (error) {
    if (errnoOf(error) === 'EROFS') {
      throw new RefusedError(`replica folder is on a read-only file system: ${paths.replica}; nothing was changed`);
    }
    if (errnoOf(error) !== 'EACCES' || statSync(paths.replica).uid === process.getuid?.()) return;
    throw new RefusedError(`replica folder cannot be written by this user: ${paths.replica}: ${describeError(error)}`);
  }
}

/**
 * One mirror pass: guards first (nothing is written if one refuses), then the lock, then the walk.
 * Refusals throw RefusedError (exit 2), a held lock BusyError (exit 75); per-entry failures are counted and
 * logged, and give exit code 1.
 */
export async function syncOnce(source: string, replica: string, options: SyncOptions = {}): Promise<SyncResult> {
  const log = options.logger ?? defaultLogger();
  const started = performance.now();
  const paths = checkPassPaths(source, replica);
  const checksum = options.checksum ?? false;
  const dryRun = options.dryRun ?? false;
  if (!options.allowEmptySource) checkEmptySource(paths);
  if (!dryRun) checkReplicaWritable(paths);

  const lock = options.lock === false || dryRun ? undefined : new ReplicaLock(paths.replica);
  lock?.acquire();
  try {
    // Guard: --max-delete is decided from the whole plan, before the first change (a counting walk, no writes).
    if (options.maxDelete !== undefined && !paths.replicaMissing) {
      const counter = new MirrorPass(createLogger([]), { checksum: false, dryRun: true, countOnly: true });
      await counter.mirrorDir('', paths.source, paths.replica, listDir(paths.source), rootEntry(paths.replica));
      if (counter.uncountable.length > 0) {
        throw new RefusedError(
          `cannot count what the pass would remove in ${JSON.stringify(counter.uncountable[0])} (it cannot be read), ` +
            `so --max-delete ${options.maxDelete} cannot be checked; nothing was changed`,
        );
      }
      if (counter.stats.removed > options.maxDelete) {
        throw new RefusedError(
          `the pass would remove ${counter.stats.removed} entries, more than --max-delete ${options.maxDelete}; nothing was changed`,
        );
      }
    }

    log.info({ args: [], event: { type: 'start', source: paths.source, replica: paths.replica, mode: checksum ? 'checksum' : 'quick', dryRun } });
    const pass = new MirrorPass(log, {
      checksum,
      dryRun,
      countOnly: false,
      signal: options.signal,
      onProgress: options.onProgress,
      replicaRoot: paths.replicaMissing ? undefined : paths.replica,
    });
    let stoppedBy: string | undefined;
    try {
      const srcRoot = rootEntry(paths.source);
      let dstRoot: Entry | undefined;
      if (paths.replicaMissing) {
        if (!dryRun) createReplicaRoot(paths.replica);
        pass.op('created', 'dir', '.');
        dstRoot = dryRun ? undefined : { ...srcRoot, mode: 0o700, mtimeMs: -1 };
      } else {
        dstRoot = rootEntry(paths.replica);
      }
      let inner = false;
      try {
        inner = await pass.mirrorDir('', paths.source, paths.replica, listDir(paths.source), dstRoot, paths.replicaMissing && !dryRun);
      } catch (error) {
        pass.handle('dir', '.', error);
      }
      if (dstRoot) {
        const diff = metaDiff(srcRoot, dstRoot);
        if (diff.length > 0 || inner) {
          try {
            if (!dryRun) setMeta(paths.replica, srcRoot, srcRoot.mode !== dstRoot.mode || inner);
            if (diff.length > 0 && !paths.replicaMissing) pass.op('updated', 'dir', '.', { note: `metadata: ${diff.join(', ')}` });
          } catch (error) {
            pass.handle('dir', '.', error);
          }
        }
      }
    } catch (error) {
      if (!(error instanceof StopPass)) throw error;
      stoppedBy = error.message;
      log.error({ args: [], event: { type: 'note', message: `pass stopped: ${stoppedBy}` } });
    } finally {
      await pass.prefetch?.close();
    }
    const durationMs = performance.now() - started;
    const stats = pass.stats;
    log.info({ args: [], event: { type: 'summary', ...stats, durationMs, dryRun } });
    const exitCode = stats.failed > 0 || stoppedBy ? ExitCode.partial : ExitCode.ok;
    return { ...stats, durationMs, exitCode, stoppedBy };
  } finally {
    lock?.release();
  }
}
