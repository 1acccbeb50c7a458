import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { ExitCode } from '../errors.js';
import { defaultLogger, emit, type LogEvent } from '../log.js';
import type { OpenFolder } from './access.js';
import { unpinWorkingFolder } from './working-folder.js';
import { runsAsRoot, setMeta } from './apply.js';
import { describeLimits, fsFamily, type ReplicaCaps } from './capabilities.js';
import { ReplicaCapsBook, replicaCapabilities } from './capabilities-probe.js';
import { fileSystemType } from './fs-type.js';
import { countRemovals } from './count-removals.js';
import { entryFromStats, listDir, type Entry } from './entry.js';
import type { FilterSpec } from './filter.js';
import type { DirFilter } from './pass-filter.js';
import { WalkFilter } from './walk-filter.js';
import { checkPassPaths, type PassPaths } from './path-guards.js';
import { checkEmptySource, checkMaxDelete, checkReplicaWritable } from './replica-guards.js';
import { ReplicaLock } from './lock.js';
import { PassReport, StopPass } from './pass-report.js';
import type { SyncStats } from './pass-stats.js';
import { metaDiff } from './plan.js';
import { MirrorWalk } from './walk.js';
import { AHEAD_AFTER, type DeferredAhead } from './lookahead.js';
import { filesReadAhead } from './source-ahead.js';
import { aheadFilter, lookAhead } from './lookahead-start.js';
import { createReplicaRoot, openChecked, type Roots } from './pass-roots.js';
import { helperStarts } from './copy-batch.js';
import { buildsStarted } from './walk-build.js';
import { updatesBesideWalk } from './walk-late.js';
import { holdTempKey } from './temp.js';
import { checksumAlgorithm, loadHash } from './compare.js';
import { checkVersionsDir } from '../versions/guards.js';
import { hasRetention, type VersionsOption } from '../versions/names.js';
import { prunedLine, pruneVersions, type Pruned } from '../versions/prune.js';
import { dropEmptyPass, VersionStore } from '../versions/store.js';

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
  /** How often `onProgress` is called, in ms (default 100; 0: at every folder and every change). */
  progressEveryMs?: number;
  /** What to leave out: exclude rules, ignore files, markers (docs/filters.md). Bad rules throw UsageError. */
  filter?: FilterSpec;
  /** Remove replica entries that match an exclude, like any other extra (default: they are left alone). */
  deleteExcluded?: boolean;
  /** issue 14: keep what the pass removes or overwrites in this folder, pruned by its retention. */
  versions?: VersionsOption;
}

export interface SyncResult extends SyncStats {
  durationMs: number;
  /** 0 complete, 1 some entries failed. Refusals and busy replicas throw instead. */
  exitCode: ExitCode;
  /** Set when the pass stopped early (disk full, aborted). */
  stoppedBy?: string;
  /** What the replica's file system does not keep, as the start line said it (absent on ext4-like replicas). */
  replicaFs?: string;
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
  const versions = options.versions && checkVersionsDir(options.versions.dir, paths); // issue 14
  // The filter's debug lines ("excluded ...") go through the pass's report once there is one: in their place
  // among the others while copies are under way behind the walk (copy-pipeline.ts).
  const debugLines = { to: (message: string): void => log.debug(message) };
  const filter = passFilter(paths, options, (message) => debugLines.to(message));
  if (!options.allowEmptySource)
    checkEmptySource(paths, filter && (() => filter.walk.mirrorsAnything(filter.root, paths.source, filter.rootEntries)));
  if (!dryRun) checkReplicaWritable(paths);

  const lock = options.lock === false || dryRun ? undefined : new ReplicaLock(paths.replica);
  lock?.acquire();
  const releaseKey = holdTempKey(); // one state folder for the whole pass: not looked up for every temporary
  const roots: Roots = {};
  let ahead: DeferredAhead | undefined;
  const passStart = Date.now();
  const store = versions && new VersionStore(versions.dir, { source: paths.source, replica: paths.replica, startedAt: passStart, dryRun });
  try {
    // What the replica keeps: assumed from its type for the guard (no write before a refusal can happen)...
    const assumed = replicaCapabilities(paths.replica, { dryRun: true });
    if (options.maxDelete !== undefined && !paths.replicaMissing) {
      // Counted with the same rules (no debug lines: the pass itself says what it leaves out).
      const counting = filter && { walk: new WalkFilter(filter.walk.pass, options.deleteExcluded ?? false), root: filter.root };
      checkMaxDelete(countRemovals(paths.source, paths.replica, counting, assumed.caps, versions?.inReplica), options.maxDelete);
    }
    // ...then measured in the replica itself, before the first change (a dry run keeps the assumption).
    if (paths.replicaMissing && !dryRun) createReplicaRoot(paths.replica);
    const { caps } = dryRun ? assumed : replicaCapabilities(paths.replica, { dryRun: false });
    const srcLocalTime = fsFamily(fileSystemType(paths.source)) === 'vfat';

    const mode = checksum ? 'checksum' : 'quick';
    const start: LogEvent = { type: 'start', source: paths.source, replica: paths.replica, mode, dryRun, filter: filter?.walk.pass.describe() };
    const limits = describeLimits(caps);
    if (limits) start.replicaFs = limits;
    if (versions) start.versions = versions.dir; // issue 14
    emit(log, 'info', start);
    const report = new PassReport(log, {
      dryRun,
      signal: options.signal,
      onProgress: options.onProgress,
      progressEveryMs: options.progressEveryMs,
    });
    debugLines.to = (message) => report.debug(message);
    let stoppedBy: string | undefined;
    try {
      const book = new ReplicaCapsBook(caps, paths.replica, dryRun, (path, other, note) => {
        const what = describeLimits(other) ?? `the file system there (${other.fsType}) keeps everything a mirror needs`;
        // Through the pass's report: written where the walk reached it, after the lines of copies still under way.
        report.note(`replica folder ${JSON.stringify(path)} is on another file system: ${what}${note ? ` (${note})` : ''}`);
      });
      const walk = new MirrorWalk(report, {
        checksum,
        dryRun,
        filter: filter?.walk,
        book,
        srcLocalTime,
        versions: store,
        leaveAlone: versions?.inReplica,
        root: runsAsRoot(),
      });
      // The folders the guards checked, opened once: everything below is reached from these handles.
      roots.source = openChecked(paths.source, paths.sourceId, 'source');
      if (!(paths.replicaMissing && dryRun)) roots.replica = openChecked(paths.replica, paths.replicaId, 'replica');
      const helpers = helperStarts();
      const readBefore = filesReadAhead();
      const updates = updatesBesideWalk();
      const built = buildsStarted();
      // issue 16: a second thread looks ahead for subtrees already mirrored (lookahead.ts, lookahead-start.ts).
      const rules = filter && aheadFilter(options.filter, options.deleteExcluded ?? false);
      if (checksum) await loadHash(); // the block hash (xxh64; SHA-1 where WebAssembly is unavailable)
      const due = () => report.stats.checked >= AHEAD_AFTER;
      ahead = !paths.replicaMissing ? await lookAhead(paths, roots, caps, srcLocalTime, checksum, rules, due) : undefined;
      walk.lookahead = ahead;
      await mirrorRoot(walk, report, paths, roots, dryRun, filter?.root, { caps, timesKept: book.timesKept(paths.replica), srcLocalTime });
      const thread = ahead?.thread;
      if (thread) {
        const dropped = walk.plansDropped > 0 ? ` (${walk.plansDropped} more dropped: an entry no longer as planned)` : '';
        const held = thread.plansHeldBack > 0 ? `; ${thread.plansHeldBack} plans held back (too many steps waiting)` : '';
        const plans = `${thread.plansUsed - walk.plansDropped} folders with changes planned by it, not listed again${dropped}${held}`;
        report.debug(`look-ahead thread: ${thread.skipped} subtrees (${thread.skippedEntries} entries) found mirrored, not walked again; ${plans}`);
      }
      if (checksum) {
        const here = walk.comparedHere > 0 ? `; ${walk.comparedHere} files compared on the pass's thread through its folders` : '';
        report.debug(`--checksum: blocks compared by ${checksumAlgorithm()} (compare.ts)${here}`);
      }
      if (helperStarts() > helpers) report.debug('copy helper thread started');
      const readAhead = filesReadAhead() - readBefore;
      if (readAhead > 0) report.debug(`${readAhead} source files of new folders read ahead of their copy (source-ahead.ts)`);
      if (buildsStarted() > built) report.debug(`${buildsStarted() - built} new folders built under a temporary name (walk-build.ts)`);
      const { count, files } = walk.copies.batches;
      if (count > 0) report.debug(`copied ${files} new files in ${count} batches on two cores (docs/benchmark.md)`);
      const renamed = updatesBesideWalk() - updates;
      if (renamed > 0) report.debug(`${renamed} updated files renamed over their old copies beside the walk (walk-late.ts)`);
    } catch (error) {
      if (!(error instanceof StopPass)) throw error;
      stoppedBy = error.message;
      emit(log, 'error', { type: 'note', message: `pass stopped: ${stoppedBy}` });
    } finally {
      store?.close();
    }
    if (store && options.versions && !options.signal?.aborted) pruneAfterPass(store, options.versions, passStart, report, log);
    const durationMs = performance.now() - started;
    const stats = report.stats;
    emit(log, 'info', { type: 'summary', ...stats, durationMs, dryRun });
    const exitCode = stats.failed > 0 || stoppedBy ? ExitCode.partial : ExitCode.ok;
    return { ...stats, durationMs, exitCode, stoppedBy, ...(limits ? { replicaFs: limits } : {}) };
  } finally {
    unpinWorkingFolder(); // before the await below: timers and signal handlers see the process's own working folder
    await ahead?.close();
    roots.source?.close();
    roots.replica?.close();
    releaseKey();
    lock?.release();
  }
}

/** The walk from the top: create a missing replica, mirror into it, then give it the source root's mode and mtime. */
async function mirrorRoot(
  walk: MirrorWalk,
  report: PassReport,
  paths: PassPaths,
  roots: Roots,
  dryRun: boolean,
  filter: DirFilter | undefined,
  fs: { caps: ReplicaCaps; timesKept: boolean; srcLocalTime: boolean },
): Promise<void> {
  const source = roots.source as OpenFolder;
  const srcRoot = entryFromStats('', source.stat());
  let dstRoot: Entry | undefined;
  if (paths.replicaMissing) {
    report.op('created', 'dir', '.'); // created (real pass) before the capabilities were measured in it
    dstRoot = dryRun ? undefined : { ...srcRoot, mode: 0o700, mtimeMs: -1, uid: undefined, gid: undefined };
  } else {
    dstRoot = entryFromStats('', (roots.replica as OpenFolder).stat());
  }
  let inner = false;
  try {
    const fresh = paths.replicaMissing && !dryRun;
    inner = await walk.mirrorDir('', source, roots.replica, source.list(), dstRoot, fresh, filter, fs.caps, paths.replica, paths.source);
    await walk.pipe.flush(); // the copies still under way, and what waits for them (copy-pipeline.ts)
  } catch (error) {
    await walk.pipe.flush(error instanceof StopPass);
    report.handle('dir', '.', error);
  }
  if (!dstRoot || !roots.replica) return;
  // As far as the replica keeps them: no modes on exFAT/FAT/NTFS, no times at all on a FAT or exFAT volume's root.
  const owners = runsAsRoot() && fs.caps.owners;
  const diff = metaDiff(srcRoot, dstRoot, { caps: fs.caps, srcLocalTime: fs.srcLocalTime, owners }).filter((d) => fs.timesKept || d !== 'mtime');
  if (diff.length === 0 && !inner) return;
  try {
    if (!dryRun) {
      const chown = diff.includes('owner') ? srcRoot : undefined;
      setMeta(roots.replica.io, srcRoot, fs.caps.modes && (srcRoot.mode !== dstRoot.mode || inner), fs.timesKept, chown);
    }
    if (diff.length > 0 && !paths.replicaMissing) report.op('updated', 'dir', '.', { note: `metadata: ${diff.join(', ')}` });
  } catch (error) {
    report.handle('dir', '.', error);
  }
}

/**
 * The pass's filter, when it has one: rules checked (UsageError, exit 2), the source root's ignore files read
 * (RefusedError when one cannot be: the pass cannot know what to leave out), the root listing it was read from.
 */
function passFilter(
  paths: PassPaths,
  options: SyncOptions,
  debug: (message: string) => void,
): { walk: WalkFilter; root: DirFilter; rootEntries: Entry[] } | undefined {
  const walk = WalkFilter.load(options.filter, paths.source, options.deleteExcluded ?? false, debug);
  if (!walk) return undefined;
  const rootEntries = walk.pass.ignoreFiles.length > 0 || !options.allowEmptySource ? listDir(paths.source).entries : [];
  return { walk, root: walk.root(paths.source, rootEntries), rootEntries };
}

/**
 * issue 14: after the walk, drop a pass folder that ended up empty, then prune what the retention no longer
 * keeps (as of this pass's start), one log line each; a folder that cannot be removed is a failure of the pass.
 */
function pruneAfterPass(store: VersionStore, policy: VersionsOption, passStart: number, report: PassReport, log: ConsolaInstance): void {
  if (store.claimed !== undefined && store.kept === 0) dropEmptyPass(store.dir, store.claimed);
  if (!hasRetention(policy)) return;
  let pruned: Pruned[];
  try {
    pruned = pruneVersions(store.dir, policy, passStart, store.dryRun);
  } catch (error) {
    report.fail('versions', store.dir, error);
    return;
  }
  for (const p of pruned) {
    if (p.error !== undefined) report.fail('versions', join(store.dir, p.pass), new Error(`could not be pruned: ${p.error}`));
    else
      emit(log, 'info', {
        type: 'note',
        message: prunedLine(p, store.dryRun),
        pruned: p.pass,
        entries: p.entries,
        bytes: p.bytes,
        dryRun: store.dryRun,
      });
  }
}
