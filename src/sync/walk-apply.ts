/**
 * Acting on a folder's plan (walk.ts): `applyStep` is the one switch over planned steps. apply.ts does the writes,
 * walk-put.ts puts new files and links in place, remove.ts does every removal; a dry run goes through the same
 * switch minus the writes. A new or existing subfolder is mirrored by the walk's own `mirrorDir`, handed in.
 */
import { join } from 'node:path';
import { OpenFolder } from './access.js';
import { removeNonDir, renameInPlace, setMeta, symlinkTempIn } from './apply.js';
import { isProbeName, type ReplicaCaps } from './capabilities.js';
import type { Entry, Listing } from './entry.js';
import type { FolderPlan, LookAhead } from './lookahead.js';
import type { DirFilter } from './pass-filter.js';
import { kindOf, StopPass } from './pass-report.js';
import type { CopyPipeline } from './copy-pipeline.js';
import { mirroredMode, type PlannedStep } from './plan.js';
import { removeEntry } from './remove.js';
import { metaDiffOn, mirrorsOwners, versionsKeeping, type WalkContext } from './walk-options.js';
import { copyWithRetry, putInPlace, reportCopied } from './walk-put.js';
import { updateLater, updatesLater, withRoom } from './walk-late.js';
import { makeNewFolder, removeOwnFolder, writesDirect } from './walk-build.js';
import { placeIn, type MovedFolders, type Place } from './walk-replica.js';

/** What a step needs from the walk (walk.ts's MirrorWalk is one): a subfolder is mirrored by the walk itself. */
export interface StepWalk extends WalkContext {
  /** issue 16: subtrees a second thread found already mirrored (lookahead.ts), when the pass has one. */
  readonly lookahead?: Pick<LookAhead, 'clean' | 'planned' | 'entering'>;
  readonly moved: MovedFolders;
  readonly mirrorDir: MirrorDir;
  /** Copies under way behind the walk, and what must wait for them (copy-pipeline.ts). */
  readonly pipe: CopyPipeline;
}

/** The walk's `mirrorDir` (walk.ts): how a step that makes or enters a subfolder has it mirrored. */
export type MirrorDir = (
  rel: string,
  srcFolder: OpenFolder,
  dstFolder: OpenFolder | undefined,
  /** The source folder's listing, or the look-ahead thread's plan for the folder (lookahead.ts). */
  srcListing: Listing | FolderPlan,
  dst: Entry | undefined,
  fresh: boolean,
  filter: DirFilter | undefined,
  caps: ReplicaCaps,
  /** The replica folder's real path (capabilities, and where it would be when it does not exist: a dry run). */
  dstReal: string,
  /** The source folder's real path: its ignore files are read and named by it (patterns, not mirrored data). */
  srcReal: string,
  place?: Place,
) => Promise<boolean>;

/**
 * A folder's walk failed: its handles are closed once no copy under way can still use them (every queued batch
 * settled first; only copying no more when the pass is stopping).
 */
async function closeAfterCopies(walk: StepWalk, error: unknown, srcChild: OpenFolder, dstChild: OpenFolder | undefined): Promise<void> {
  try {
    await walk.pipe.flush(error instanceof StopPass);
  } finally {
    dstChild?.close();
    srcChild.close();
  }
}

/** What a leftover of this tool's own is, for its debug line. */
const leftoverKind = (e: Entry): string => (e.type !== 'dir' ? 'temporary' : isProbeName(e.name) ? 'probe folder' : 'temporary folder');

/** A replica entry's times as they must be set to read back the same (undoing a driver's read shift). */
function unshifted(entry: Entry, caps: ReplicaCaps): Entry {
  const shift = caps.mtimeOffsetMs;
  return shift === 0 ? entry : { ...entry, mtimeMs: entry.mtimeMs - shift, atimeMs: entry.atimeMs - shift };
}

/** Apply one step; returns true when the replica folder was changed. */
export async function applyStep(
  walk: StepWalk,
  step: PlannedStep,
  rel: string,
  srcFolder: OpenFolder,
  dstFolder: OpenFolder | undefined,
  real: { src: string; dst: string },
  caps: ReplicaCaps,
  filter?: DirFilter,
): Promise<boolean> {
  const { report, opts } = walk;
  const dry = opts.dryRun;
  const dstReal = real.dst;
  const dstDir = dstFolder?.io ?? dstReal;
  switch (step.op) {
    case 'rename': {
      // The replica's entry under another spelling of the source's name: renamed in place, never copied again.
      if (!dry) {
        renameInPlace(dstDir, step.dst.name, step.src.name);
        // fusefat stamps a renamed entry with "now": give it back the time it had.
        if (!caps.renameKeepsTimes) setMeta(join(dstDir, step.src.name), unshifted(step.dst, caps), false);
      }
      report.op('updated', kindOf(step.dst), join(rel, step.src.name), { note: `renamed from ${JSON.stringify(step.dst.name)}` });
      return true;
    }
    case 'copy': {
      const { src } = step;
      const path = join(rel, src.name);
      const target = join(dstDir, src.name);
      // Copy first, then clear the way: a source file that cannot be read leaves the replica's entry alone.
      if (updatesLater(walk, step, dstFolder, caps)) {
        await updateLater(walk, step, path, srcFolder, dstFolder, caps); // the rename beside the walk (walk-late.ts)
        return true;
      }
      // A full disk while updates' renames are pending: they are settled and the copy made again (walk-late.ts).
      const make = (into: OpenFolder): string | Promise<string> => withRoom(walk.pipe, () => copyWithRetry(walk, srcFolder, into, src, path, caps));
      const kept = await putInPlace(walk, make, dstFolder, src.name, target, path, step.replace, step.dst);
      // fusefat stamps the renamed temporary with "now": the source's times are set again on the installed file.
      if (!dry && !caps.renameKeepsTimes) setMeta(target, src, false);
      reportCopied(report, step, path, kept);
      return true;
    }
    case 'compare':
      return false; // resolved by mirrorDir before apply
    case 'meta': {
      const { src, dst } = step;
      if (!dry) {
        // Never a new owner or an added setuid/setgid bit: those are copied again (plan.ts metaStep).
        const owned = mirrorsOwners(opts, caps);
        setMeta(join(dstDir, src.name), src, caps.modes && mirroredMode(src, owned) !== dst.mode, true, undefined, owned);
      }
      report.op('updated', 'file', join(rel, src.name), { note: `metadata: ${metaDiffOn(opts, src, dst, caps).join(', ')}` });
      return true;
    }
    case 'mkdir': {
      const { src } = step;
      const path = join(rel, src.name);
      const target = join(dstDir, src.name);
      // Open and list the source first (and read its ignore files): an unreadable one leaves the replica's entry alone.
      const since = walk.pipe.mark();
      const srcChild = srcFolder.openChild(src.name, src);
      let dstChild: OpenFolder | undefined;
      let at: Place | undefined;
      try {
        const listing = srcChild.list();
        const inside = filter && opts.filter?.child(filter, src.name, srcChild.io, listing.entries, () => join(real.src, src.name));
        if (step.replace)
          await removeEntry(
            report,
            dry,
            target,
            path,
            step.replace,
            undefined,
            versionsKeeping(opts, 'replaced'),
            dry ? undefined : walk.moved.whileRemoving(dstFolder, rel, dstReal),
          );
        // Under a temporary name where it can be, its new files then written without one each (walk-build.ts).
        dstChild = dry ? undefined : makeNewFolder(dstFolder, target, src.name, path, caps, since);
        report.op('created', 'dir', path);
        const placeholder: Entry | undefined = dry ? undefined : { ...src, mode: 0o700, mtimeMs: -1 };
        at = dstChild && dstFolder ? placeIn(dstFolder, src.name, dstChild, undefined, rel, dstReal) : undefined;
        await walk.mirrorDir(
          path,
          srcChild,
          dstChild,
          listing,
          placeholder,
          !dry,
          inside,
          caps,
          join(dstReal, src.name),
          join(real.src, src.name),
          at,
        );
      } catch (error) {
        await closeAfterCopies(walk, error, srcChild, dstChild);
        throw error;
      }
      // The folder's own metadata once its files are in (after its copies still under way: copy-pipeline.ts).
      const made = dstChild;
      await walk.pipe.after(() => {
        try {
          if (made && walk.moved.holds(at, made, path, join(dstReal, src.name)))
            setMeta(made.io, src, caps.modes, true, mirrorsOwners(opts, caps) ? src : undefined);
        } catch (error) {
          report.handle('dir', path, error);
        } finally {
          made?.close();
          srcChild.close();
        }
      }, since);
      return true;
    }
    case 'descend': {
      const { src, dst } = step;
      const path = join(rel, src.name);
      const dstHere = join(dstReal, src.name);
      // On the replica's own device, the look-ahead thread may have found the subtree mirrored throughout (it is
      // counted, not walked again: only with nothing to fix on the folder itself), or planned the folder, which
      // has changes (its plan is applied without listing the folder again). Never with rules: the thread makes
      // no plan under them.
      const ahead = walk.lookahead;
      let planned: FolderPlan | undefined;
      if (ahead && caps === opts.book.root) {
        if (metaDiffOn(opts, src, dst, caps).length === 0) {
          const checked = ahead.clean(path, { src: src.ino, dst: dst.ino });
          if (checked !== undefined) {
            report.stats.checked += checked;
            return false;
          }
        }
        if (!filter) planned = ahead.planned(path, { src: src.ino, dst: dst.ino });
        ahead.entering(path);
      }
      // An unreadable (or swapped) source folder throws here: its replica copy and everything below it stay as they are.
      const since = walk.pipe.mark();
      const srcChild = srcFolder.openChild(src.name, src);
      let dstChild: OpenFolder | undefined;
      try {
        const listing = planned ? undefined : srcChild.list();
        const inside = filter && listing && opts.filter?.child(filter, src.name, srcChild.io, listing.entries, () => join(real.src, src.name));
        const opened = dstFolder ? dstFolder.openChild(dst.name, dst) : OpenFolder.openNoFollow(join(dstDir, dst.name), dst);
        dstChild = opened;
        // A folder on another device (a mount point below the replica) is judged by that file system.
        const own = opts.book.at(dstHere, caps, opened);
        const from = planned && own === opts.book.root ? planned : (listing ?? srcChild.list());
        const at = dstFolder ? placeIn(dstFolder, dst.name, opened, dst.uid, rel, dstReal) : undefined;
        const inner = await walk.mirrorDir(path, srcChild, opened, from, dst, false, inside, own, dstHere, join(real.src, src.name), at);
        const diff = metaDiffOn(opts, src, dst, own, dstHere);
        // Its own metadata after its files (and after its copies still under way: copy-pipeline.ts).
        await walk.pipe.after(() => {
          try {
            if (diff.length === 0 && !inner) return;
            const holds = dry || walk.moved.holds(at, opened, path, dstHere);
            if (!dry && holds) {
              const chown = diff.includes('owner') ? src : undefined;
              setMeta(opened.io, src, own.modes && (src.mode !== dst.mode || inner), opts.book.timesKept(dstHere), chown);
            }
            if (diff.length > 0 && holds) report.op('updated', 'dir', path, { note: `metadata: ${diff.join(', ')}` });
          } catch (error) {
            report.handle('dir', path, error);
          } finally {
            opened.close();
            srcChild.close();
          }
        }, since);
      } catch (error) {
        await closeAfterCopies(walk, error, srcChild, dstChild);
        throw error;
      }
      return false; // a subfolder's metadata does not touch this folder's mtime
    }
    case 'symlink': {
      const { src } = step;
      const path = join(rel, src.name);
      const target = join(dstDir, src.name);
      if (!dry && dstFolder) writesDirect(dstFolder, 1, 0); // in a folder being built, it counts towards its share
      const kept = await putInPlace(
        walk,
        (into) => symlinkTempIn(into, src.target ?? '', mirrorsOwners(opts, caps) ? src : undefined),
        dstFolder,
        src.name,
        target,
        path,
        step.replace,
        step.dst,
      );
      report.op(step.dst ? 'updated' : 'created', 'symlink', path, kept);
      return true;
    }
    case 'skip':
      // What the replica cannot hold (a link, a refused name, a name clash) comes with its reason from the plan.
      report.skip(kindOf(step.src), join(rel, step.src.name), step.reason ?? 'not a regular file, folder or symlink');
      return false;
    case 'remove':
      await removeEntry(
        report,
        dry,
        join(dstDir, step.dst.name),
        join(rel, step.dst.name),
        step.dst,
        filter && opts.filter?.insideRemoved(filter, step.dst.name),
        versionsKeeping(opts, 'removed'),
        dry ? undefined : walk.moved.whileRemoving(dstFolder, rel, dstReal),
      );
      return true;
    case 'purge-temp':
      // A leftover temporary file or folder (walk-build.ts), or a capability probe folder of a killed pass: this
      // tool's own, removed quietly.
      if (!dry && step.dst.type === 'dir') {
        // Something inside that cannot go is reported, and the folder stays (no "removed" line then).
        if (!(await removeOwnFolder(report, join(dstDir, step.dst.name), join(rel, step.dst.name), step.dst))) return true;
      } else if (!dry) removeNonDir(join(dstDir, step.dst.name));
      report.debug(`removed leftover ${leftoverKind(step.dst)} ${JSON.stringify(join(rel, step.dst.name))}`);
      return true;
  }
}
