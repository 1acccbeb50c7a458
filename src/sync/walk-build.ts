/**
 * New folders built under a temporary name (issue 16): a folder this pass creates is made as a temporary
 * (`.folder-sync-partial-<nonce><tag>`, mode 0700, temp.ts) beside its target, and its new files are written
 * straight under their own names inside it: no temporary and no rename per file. The folder is renamed into
 * place once the files written that way are complete: at the end of its walk, or earlier, as soon as its
 * subtree has taken BUILD_FILES files or BUILD_BYTES bytes that way (from then on its files go through a
 * temporary each, as everywhere else), so a killed pass loses at most that much work.
 *
 * What holds (issues 2 and 5): no file is ever under its real name before it is complete. Until the rename a
 * file is inside a temporary folder; the rename waits for every copy into the folder still under way
 * (copy-pipeline.ts `after`); copies made after the rename is decided use a temporary each, and a file a copy
 * helper left half written under its own name is removed before anything else (walk-copy.ts). Every file put
 * in the folder's subtree counts towards its share (those through a temporary and large ones too), so a killed
 * pass leaves at most about one share there. The next pass removes such a folder quietly as its own leftover
 * (plan.ts `isDebris`: a valid tag, and a folder owned by this user with mode 0700, as only a pass makes it),
 * through opened folders like any removal (`removeOwnFolder`), and copies the folder again. The folder is
 * renamed only if its temporary name still holds the folder the pass made; a rename that fails leaves it
 * for the next pass to remove and reports the folder once.
 *
 * Only where files are named through the folder's handle ('fd' access mode, Linux), so that renaming the
 * folder moves nothing under way, and on replicas whose renames keep times (not fusefat) and that keep
 * permission bits (so the temporary folder is really owner-only: not exFAT, FAT or NTFS).
 * FOLDER_SYNC_BUILD=0 turns it off (the A/B switch of the benchmark).
 */
import { accessMode, OpenFolder } from './access.js';
import { readdirSync } from 'node:fs';
import { describeError } from '../errors.js';
import { makeDir } from './apply.js';
import type { ReplicaCaps } from './capabilities.js';
import { MAX_FILE } from './copy-batch.js';
import type { CopyPipeline } from './copy-pipeline.js';
import type { Entry } from './entry.js';
import { isOwnFolder } from './plan.js';
import type { PassReport } from './pass-report.js';
import { removeEntry } from './remove.js';
import { tempName } from './temp.js';
import { brokenLink, placeOf, type MovedFolders } from './walk-replica.js';

/** Files put in one temporary folder's subtree before it is renamed into place, at most (about). */
export const BUILD_FILES = 8192;
/** Bytes put there, at most (about: a file larger than what is left is counted when it is in). */
export const BUILD_BYTES = 64 << 20;
/** Tests (FOLDER_SYNC_TEST_BUILD_FILES): a smaller share, to see a folder renamed before its walk ends. */
const shareFiles = Number(process.env['FOLDER_SYNC_TEST_BUILD_FILES']) || BUILD_FILES;

class Build {
  files = 0;
  bytes = 0;
  /** The rename is decided (queued, or done): no more files are written under their own names in it. */
  done = false;

  constructor(
    readonly parent: OpenFolder,
    readonly folder: OpenFolder,
    readonly tmp: string,
    readonly name: string,
    readonly rel: string,
    /** The temporary folder it is in, if any: its files count there too. */
    readonly up: Build | undefined,
    /** The pipeline's mark when its walk started: its rename waits only for what was queued since (copy-pipeline.ts). */
    readonly since: number,
    /** Its group, as copy-file.ts `CopyOptions.building` takes it (one object, not one per file). */
    readonly group: { readonly gid: number },
  ) {}
}

/** What the rename needs from the walk. */
export interface BuildHost {
  readonly pipe: CopyPipeline;
  readonly report: PassReport;
  readonly moved: MovedFolders;
}

/** The folders being built, by their opened handle. */
const builds = new WeakMap<OpenFolder, Build>();

/** Folders built under a temporary name by this process (the pass's debug line). */
let started = 0;
export const buildsStarted = (): number => started;

/**
 * Make the new replica folder `name` in `parent` (at `target`, its path there) and open it: under a temporary
 * name where that is allowed, else under its own name (apply.ts `makeDir`).
 */
export function makeNewFolder(
  parent: OpenFolder | undefined,
  target: string,
  name: string,
  rel: string,
  caps: ReplicaCaps,
  /** The pipeline's mark (`CopyPipeline.mark`) before the folder is made. */
  since: number,
): OpenFolder {
  if (parent) writesDirect(parent, 1, 0); // a folder made in a folder being built counts towards its share
  if (parent && accessMode() === 'fd' && caps.renameKeepsTimes && caps.modes && process.env['FOLDER_SYNC_BUILD'] !== '0') {
    const tmp = tempName();
    const folder = parent.mkdir(tmp);
    // The folder opened is as a pass makes it: this user's, 0700 and empty (not another one put at its name in
    // between, and not on a file system that shows other owners or modes, where the next pass would not know it
    // as its own). Else it is made under its own name after all.
    const st = folder.stat();
    if (isOwnFolder({ uid: Number(st.uid), mode: Number(st.mode) }) && readdirSync(folder.io).length === 0) {
      builds.set(folder, new Build(parent, folder, tmp, name, rel, builds.get(parent), since, { gid: Number(st.gid) }));
      started++;
      return folder;
    }
    folder.close();
    try {
      parent.rmdir(tmp);
    } catch {
      // not empty, or gone: not ours to remove; a user entry for the next pass
    }
  }
  makeDir(target);
  return parent ? parent.openChild(name) : OpenFolder.openNoFollow(target);
}

/**
 * `count` new files of `bytes` in all are put into `into`: counted towards the share of every temporary folder
 * it is in. True when they are to be written under their own names (`into` is being built, its rename not
 * decided yet; the caller checks each is at most MAX_FILE).
 */
export function writesDirect(into: OpenFolder, count: number, bytes: number): boolean {
  const own = builds.get(into);
  if (!own) return false;
  for (let b: Build | undefined = own; b; b = b.up) {
    if (b.done) continue;
    b.files += count;
    b.bytes += bytes;
  }
  return !own.done;
}

/**
 * `into` is a folder being built: its group (copy-file.ts `CopyOptions.building`), for the copies decided to be
 * written under their own names in it (`writesDirect`), even those made after its rename is decided (the rename
 * waits for them).
 */
export function building(into: OpenFolder): { readonly gid: number } | undefined {
  return builds.get(into)?.group;
}

/** One file of `size` bytes (counted whatever its size; written under its own name only up to MAX_FILE). */
export const writesFileDirect = (into: OpenFolder, size: number): boolean => writesDirect(into, 1, size) && size <= MAX_FILE;

/** Between steps of `folder`'s walk: the folders it is in (itself included) whose subtree has taken its share are renamed. */
export async function renameFull(folder: OpenFolder, host: BuildHost): Promise<void> {
  for (let b = builds.get(folder); b; b = b.up) {
    if (!b.done && (b.files >= shareFiles || b.bytes >= BUILD_BYTES)) await decide(b, host);
  }
}

/** `folder`'s walk is over (or stopped): it is renamed into place after the copies into it still under way. */
export async function finishBuild(folder: OpenFolder | undefined, host: BuildHost): Promise<void> {
  const b = folder && builds.get(folder);
  if (b && !b.done) await decide(b, host);
}

async function decide(b: Build, host: BuildHost): Promise<void> {
  b.done = true;
  // After the copies into it still under way (and the rest queued since its walk started), not behind other
  // folders' batches: the endings of the folders walked meanwhile need not wait for it (copy-pipeline.ts `after`).
  await host.pipe.after(() => putInPlace(b, host), b.since);
}

/**
 * Rename the finished temporary folder into place, if its name still holds the folder the pass made. If not, or
 * if the rename fails, it stays where it is (the next pass removes it if it is still this tool's own) and the
 * folder is reported once (its own mode and times are then not set: MovedFolders).
 */
function putInPlace(b: Build, { report, moved }: BuildHost): void {
  try {
    if (!b.parent.holdsFolder(b.tmp, b.folder)) throw new Error('its temporary name holds another folder now');
    // Not in a folder above that someone else moved away meanwhile (walk-replica.ts): the rename would be made there.
    const place = placeOf(b.folder);
    if (place && brokenLink(place, b.folder, 'skip')) throw new Error('a folder above it was moved while the pass ran');
    b.parent.rename(b.tmp, b.name);
  } catch (error) {
    const why = error instanceof Error && !('code' in error) ? error.message : describeError(error);
    report.handle(
      'dir',
      b.rel,
      new Error(`its new copy could not be put in place (${why}); what was copied into it is copied again by the next pass`),
    );
    moved.reported(b.folder);
  }
}

/**
 * Remove a folder of this tool's own left by a killed pass (plan.ts 'purge-temp': a folder being built, or a
 * capability probe's) through opened folders like any removal (remove.ts), without a log line per entry: what
 * fails to go is still reported.
 */
export async function removeOwnFolder(report: PassReport, path: string, rel: string, entry: Entry): Promise<boolean> {
  const quiet = Object.create(report, { removed: { value: () => undefined }, breathe: { value: () => report.breathe() } }) as PassReport;
  return await removeEntry(quiet, false, path, rel, entry);
}
