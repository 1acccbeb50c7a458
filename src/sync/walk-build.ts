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
 * (copy-pipeline.ts `after`); copies made after the rename is decided use a temporary each. A killed pass
 * leaves the temporary folder, which the next pass removes quietly as its own leftover (plan.ts, like a
 * temporary file) and then copies the folder again.
 *
 * Only where files are named through the folder's handle ('fd' access mode, Linux), so that renaming the
 * folder moves nothing under way, and on replicas whose renames keep times (not fusefat) and that keep
 * permission bits (so the temporary folder is really owner-only: not exFAT, FAT or NTFS).
 * FOLDER_SYNC_BUILD=0 turns it off (the A/B switch of the benchmark).
 */
import { join } from 'node:path';
import { accessMode, OpenFolder } from './access.js';
import { makeDir, notInstalled, removeLeftoverFolder } from './apply.js';
import type { ReplicaCaps } from './capabilities.js';
import { MAX_FILE } from './copy-batch.js';
import type { CopyPipeline } from './copy-pipeline.js';
import type { PassReport } from './pass-report.js';
import { tempName } from './temp.js';

/** Files (of at most MAX_FILE bytes) written under their own names in one temporary folder's subtree, at most. */
export const BUILD_FILES = 8192;
/** Bytes written that way, at most. */
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
    readonly tmp: string,
    readonly name: string,
    readonly rel: string,
    /** The temporary folder it is in, if any: its files count there too. */
    readonly up: Build | undefined,
    /** The pipeline's mark when its walk started: its rename waits only for what was queued since (copy-pipeline.ts). */
    readonly since: number,
  ) {}
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
  if (parent && accessMode() === 'fd' && caps.renameKeepsTimes && caps.modes && process.env['FOLDER_SYNC_BUILD'] !== '0') {
    const tmp = tempName();
    const folder = parent.mkdir(tmp);
    builds.set(folder, new Build(parent, tmp, name, rel, builds.get(parent), since));
    started++;
    return folder;
  }
  makeDir(target);
  return parent ? parent.openChild(name) : OpenFolder.openNoFollow(target);
}

/**
 * Are `count` new files of `bytes` in all (each at most MAX_FILE) to be written under their own names into
 * `into`? True when it is a folder being built whose rename is not decided yet; they are counted then.
 */
export function writesDirect(into: OpenFolder, count: number, bytes: number): boolean {
  const own = builds.get(into);
  if (!own || own.done) return false;
  for (let b: Build | undefined = own; b; b = b.up) {
    b.files += count;
    b.bytes += bytes;
  }
  return true;
}

/** One file: as `writesDirect`, for a file of `size` bytes (larger ones than MAX_FILE always get a temporary). */
export const writesFileDirect = (into: OpenFolder, size: number): boolean => size <= MAX_FILE && writesDirect(into, 1, size);

/** Between steps of `folder`'s walk: the folders it is in (itself included) whose subtree has taken its share are renamed. */
export async function renameFull(folder: OpenFolder, pipe: CopyPipeline, report: PassReport): Promise<void> {
  for (let b = builds.get(folder); b; b = b.up) {
    if (!b.done && (b.files >= shareFiles || b.bytes >= BUILD_BYTES)) await decide(b, pipe, report);
  }
}

/** `folder`'s walk is over (or stopped): it is renamed into place after the copies into it still under way. */
export async function finishBuild(folder: OpenFolder | undefined, pipe: CopyPipeline, report: PassReport): Promise<void> {
  const b = folder && builds.get(folder);
  if (b && !b.done) await decide(b, pipe, report);
}

async function decide(b: Build, pipe: CopyPipeline, report: PassReport): Promise<void> {
  b.done = true;
  // After the copies into it still under way (and the rest queued since its walk started), not behind other
  // folders' batches: the endings of the folders walked meanwhile need not wait for it (copy-pipeline.ts `after`).
  await pipe.after(() => putInPlace(b, report), b.since);
}

/** Rename the finished temporary folder into place; if it cannot be, it is removed and the folder reported. */
function putInPlace(b: Build, report: PassReport): void {
  try {
    b.parent.rename(b.tmp, b.name);
  } catch (error) {
    const reported = notInstalled(b.parent, b.tmp, error);
    removeLeftoverFolder(join(b.parent.io, b.tmp));
    report.handle('dir', b.rel, reported);
  }
}
