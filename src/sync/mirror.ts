import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { describeError, ExitCode, RefusedError } from '../errors.js';
import { createLogger, defaultLogger, type Action, type Kind, type LogEvent } from '../log.js';
import {
  copyFileAtomic,
  ensureOwnerAccess,
  makeDir,
  removeEmptyDir,
  removeNonDir,
  setMeta,
  SourceChangedError,
  symlinkAtomic,
} from './apply.js';
import { sameContents } from './compare.js';
import { entryFromStats, listDir, type Entry } from './entry.js';
import { checkPassPaths } from './guards.js';
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

/** Thrown inside a pass to stop it: the disk is full or the caller aborted. */
class StopPass extends Error {}

function kindOf(entry: Entry): Kind | string {
  return entry.type === 'special' ? (entry.special ?? 'special file') : entry.type;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** One mirror pass over a tree: walk both sides a folder at a time, plan each folder, apply the plan. */
class MirrorPass {
  readonly stats: SyncStats = { checked: 0, created: 0, updated: 0, removed: 0, failed: 0, skipped: 0, bytes: 0 };
  private lastYield = performance.now();

  constructor(
    private readonly log: ConsolaInstance,
    private readonly opts: {
      checksum: boolean;
      dryRun: boolean;
      countOnly: boolean;
      signal?: AbortSignal;
      onProgress?: (stats: Readonly<SyncStats>) => void;
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

  /** Disk full stops the pass; everything else is a per-entry failure. */
  handle(kind: string, rel: string, error: unknown): void {
    const code = errnoOf(error);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.fail(kind, rel, error);
      throw new StopPass(`the replica's disk is full (${code}) while writing ${JSON.stringify(rel)}`);
    }
    if (error instanceof StopPass) throw error;
    this.fail(kind, rel, error);
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

  /**
   * Mirror one folder. `dst` is the replica folder's entry as listed before any change (undefined when it
   * does not exist yet, only possible in a dry run). Returns true when anything inside was changed.
   */
  async mirrorDir(rel: string, srcPath: string, dstPath: string, dst: Entry | undefined): Promise<boolean> {
    await this.breathe();
    let srcEntries: Entry[];
    const keep = new Set<string>();
    try {
      const listing = listDir(srcPath);
      srcEntries = listing.entries;
      for (const issue of listing.issues) {
        const path = join(rel, issue.name);
        if (issue.error.code === 'ENOENT') this.warnSkip('entry', path, 'vanished while the pass ran');
        else this.fail('entry', path, issue.error);
        keep.add(issue.name); // never delete the replica's copy of something we could not read
      }
    } catch (error) {
      // An unreadable source folder: its replica copy stays as it is.
      this.handle('dir', rel || '.', error);
      return false;
    }

    let dstEntries: Entry[] = [];
    let dstMode = dst?.mode ?? 0o700;
    let opened = false;
    if (dst) {
      try {
        dstEntries = listDir(dstPath).entries;
      } catch (error) {
        if (errnoOf(error) === 'EACCES' && !this.opts.dryRun && ensureOwnerAccess(dstPath, dstMode)) {
          opened = true;
          dstMode |= 0o700;
          try {
            dstEntries = listDir(dstPath).entries;
          } catch (again) {
            this.handle('dir', rel || '.', again);
            return false;
          }
        } else {
          this.handle('dir', rel || '.', error);
          return false;
        }
      }
      if (keep.size) dstEntries = dstEntries.filter((e) => !keep.has(e.name));
    }

    this.stats.checked += srcEntries.length;
    const steps = planDir(srcEntries, dstEntries, { checksum: this.opts.checksum });
    let changed = false;
    for (const step of steps) {
      await this.breathe();
      if (!this.opts.dryRun && !opened && step.op !== 'compare' && step.op !== 'descend' && step.op !== 'skip') {
        // First change in this folder: make sure its owner can write it (read-only folders are still mirrored).
        try {
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
        } catch (error) {
          this.handle('dir', rel || '.', error);
          return changed;
        }
        opened = true;
      }
      try {
        if (await this.apply(step, rel, srcPath, dstPath)) changed = true;
      } catch (error) {
        const entry = 'src' in step ? step.src : step.dst;
        this.handle(kindOf(entry), join(rel, entry.name), error);
        if (step.op !== 'descend' && step.op !== 'compare' && step.op !== 'skip') changed = true;
      }
    }
    // Opening the folder changed its mode: the caller must restore it even if nothing else changed.
    return changed || opened;
  }

  /** Apply one step; returns true when the replica folder was changed. */
  private async apply(step: Step, rel: string, srcDir: string, dstDir: string): Promise<boolean> {
    const dry = this.opts.dryRun;
    switch (step.op) {
      case 'copy': {
        const { src } = step;
        const path = join(rel, src.name);
        if (step.replace) await this.removeEntry(join(dstDir, src.name), path, step.replace);
        if (!dry) this.copyWithRetry(join(srcDir, src.name), dstDir, src, path);
        this.stats.bytes += src.size;
        this.op(step.dst ? 'updated' : 'created', 'file', path, { size: src.size });
        return true;
      }
      case 'compare': {
        const { src, dst } = step;
        if (this.opts.countOnly) return false;
        const equal = await sameContents(join(srcDir, src.name), join(dstDir, dst.name), src.size);
        const next = afterCompare(src, dst, equal);
        return next ? this.apply(next, rel, srcDir, dstDir) : false;
      }
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
        if (step.replace) await this.removeEntry(target, path, step.replace);
        if (!dry) makeDir(target);
        this.op('created', 'dir', path);
        const placeholder: Entry | undefined = dry ? undefined : { ...src, mode: 0o700, mtimeMs: -1 };
        await this.mirrorDir(path, join(srcDir, src.name), target, placeholder);
        if (!dry) setMeta(target, src, true);
        return true;
      }
      case 'descend': {
        const { src, dst } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        const inner = await this.mirrorDir(path, join(srcDir, src.name), target, dst);
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
        if (step.replace) await this.removeEntry(join(dstDir, src.name), path, step.replace);
        if (!dry) symlinkAtomic(dstDir, src.name, src.target ?? '');
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
        if (!this.opts.countOnly) this.log.debug(`removed leftover temporary ${JSON.stringify(join(rel, step.dst.name))}`);
        return true;
    }
  }

  private copyWithRetry(srcPath: string, dstDir: string, src: Entry, rel: string): void {
    try {
      copyFileAtomic(srcPath, dstDir, src.name, src);
    } catch (error) {
      if (!(error instanceof SourceChangedError)) throw error;
      // Changed under us: take a fresh look and try once more; a second change is reported as failed.
      const fresh = entryFromStats(src.name, lstatSync(srcPath));
      if (fresh.type !== 'file') throw error;
      Object.assign(src, fresh);
      copyFileAtomic(srcPath, dstDir, src.name, src);
      if (!this.opts.countOnly) this.log.debug(`${JSON.stringify(rel)} changed during the copy; copied again`);
    }
  }

  /** Remove a replica entry and, for a folder, everything below it (each one logged); links are unlinked, never followed. */
  private async removeEntry(path: string, rel: string, entry: Entry): Promise<void> {
    if (entry.type === 'dir') {
      await this.breathe();
      let children: Entry[] = [];
      try {
        children = listDir(path).entries;
      } catch (error) {
        if (errnoOf(error) !== 'EACCES' || this.opts.dryRun) throw error;
        ensureOwnerAccess(path, entry.mode);
        children = listDir(path).entries;
      }
      if (!this.opts.dryRun) ensureOwnerAccess(path, entry.mode);
      for (const child of children) {
        try {
          await this.removeEntry(join(path, child.name), join(rel, child.name), child);
        } catch (error) {
          this.handle(kindOf(child), join(rel, child.name), error);
        }
      }
      if (!this.opts.dryRun) removeEmptyDir(path);
      this.op('removed', 'dir', rel);
      return;
    }
    if (!this.opts.dryRun) removeNonDir(path);
    if (entry.type === 'special' || isTempName(entry.name)) {
      if (!this.opts.countOnly) this.log.debug(`removed ${kindOf(entry)} ${JSON.stringify(rel)}`);
      this.stats.removed++;
      return;
    }
    this.op('removed', entry.type, rel);
  }
}

/** Entry for a folder root (source or replica), following a link the user named on the command line. */
function rootEntry(path: string): Entry {
  return entryFromStats('', statSync(path));
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

  // Guard: an empty source must not silently empty a full replica (an unmounted disk looks empty).
  if (!options.allowEmptySource) {
    const srcCount = listDir(paths.source).entries.filter((e) => e.type !== 'special').length;
    if (srcCount === 0 && !paths.replicaMissing) {
      const dstCount = listDir(paths.replica).entries.filter((e) => !isTempName(e.name)).length;
      if (dstCount > 0) {
        throw new RefusedError(
          `source ${paths.source} is empty but the replica holds ${dstCount} entries; refusing to empty it ` +
            `(is a disk unmounted? pass --allow-empty-source to mirror an empty source)`,
        );
      }
    }
  }

  const lock = options.lock === false || dryRun ? undefined : new ReplicaLock(paths.replica);
  lock?.acquire();
  try {
    // Guard: --max-delete is decided from the whole plan, before the first change (a counting walk, no writes).
    if (options.maxDelete !== undefined && !paths.replicaMissing) {
      const counter = new MirrorPass(createLogger([]), { checksum: false, dryRun: true, countOnly: true });
      await counter.mirrorDir('', paths.source, paths.replica, rootEntry(paths.replica));
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
    });
    let stoppedBy: string | undefined;
    try {
      const srcRoot = rootEntry(paths.source);
      let dstRoot: Entry | undefined;
      if (paths.replicaMissing) {
        if (!dryRun) mkdirSync(paths.replica, { recursive: true, mode: 0o700 });
        pass.op('created', 'dir', '.');
        dstRoot = dryRun ? undefined : { ...srcRoot, mode: 0o700, mtimeMs: -1 };
      } else {
        dstRoot = rootEntry(paths.replica);
      }
      const inner = await pass.mirrorDir('', paths.source, paths.replica, dstRoot);
      if (dstRoot && !dryRun) {
        const diff = metaDiff(srcRoot, dstRoot);
        if (diff.length > 0 || inner) {
          try {
            setMeta(paths.replica, srcRoot, srcRoot.mode !== dstRoot.mode || inner);
          } catch (error) {
            pass.handle('dir', '.', error);
          }
        }
      }
    } catch (error) {
      if (!(error instanceof StopPass)) throw error;
      stoppedBy = error.message;
      log.error({ args: [], event: { type: 'note', message: `pass stopped: ${stoppedBy}` } });
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
