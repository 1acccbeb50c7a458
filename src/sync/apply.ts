import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RefusedNameError } from './capabilities.js';
import type { OpenFolder } from './access.js';
import { timeArg } from './times.js';
import { exists, type Entry } from './entry.js';
import { mirroredMode } from './plan.js';
import { holdBlocks, releaseBlocks } from './free-later.js';
import { tempName } from './temp.js';
import { discardIn } from './copy-file.js';

/**
 * The file-system side effects of a pass, one function per kind of change. Every write goes to a path
 * built from a folder this pass has lstat-ed as a real folder, so nothing is written through a link. A file's
 * bytes are copied into a temporary by copy-file.ts; the temporary is installed here (`installIn`).
 */

/** Is this pass run as root (owners can be given away)? */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * Errors with which a file system refuses a name (exFAT: ENOENT for ":"; others EINVAL, EILSEQ). Not EPERM,
 * although fusefat uses it: it also means "not allowed here" (a sticky folder), and fusefat's refusals are
 * known from the probe and skipped by the plan before any attempt.
 */
const NAME_REFUSALS = new Set(['ENOENT', 'EINVAL', 'EILSEQ', 'ENAMETOOLONG']);

/**
 * Install a complete temporary: `tmp` renamed over `name` (atomic; replaces a file or link, never a folder), both
 * named inside `folder`. A name the file system refuses is a RefusedNameError, the temporary removed.
 */
export function installIn(folder: OpenFolder, tmp: string, name: string): void {
  if (tmp === name) return; // written under its own name in a folder being built (copy-file.ts folderEnds)
  try {
    folder.rename(tmp, name);
  } catch (error) {
    throw notInstalled(folder, tmp, error);
  }
}

/** The rename of `tmp` failed with `error`: the temporary removed, and the error to report (a refused name as such). */
export function notInstalled(folder: OpenFolder, tmp: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  let refused = false;
  if (NAME_REFUSALS.has(code)) {
    try {
      folder.lstat(tmp); // still there, so nothing vanished: the replica refused the target's name
      refused = true;
    } catch {
      // gone: the error is what it says
    }
  }
  discardIn(folder, tmp);
  return refused ? new RefusedNameError(code) : error;
}

/** A temporary symlink in `folder` (its own owner set, never its target's), to be installed with `installIn`. */
export function symlinkTempIn(folder: OpenFolder, target: string, owner?: { uid?: number; gid?: number }): string {
  const tmp = folder.createTempLink(target);
  if (owner?.uid !== undefined && owner.gid !== undefined) {
    try {
      folder.lchown(tmp, owner.uid, owner.gid); // the link's own owner (rsync -a), never its target's
    } catch (error) {
      discardIn(folder, tmp);
      throw error;
    }
  }
  return tmp;
}

/** A replica entry was swapped (for a link, or another folder) while the pass ran: nothing is written through it. */
export class ReplicaChangedError extends Error {
  constructor(readonly path: string) {
    super('it was replaced while the pass ran (by a link or another folder); nothing was written through it');
  }
}

/**
 * Set a file's or folder's permission bits and times to the source's. `times: false` where the replica holds
 * none (the root of a FAT or exFAT volume: fusefat even dies on utimes there).
 */
export function setMeta(
  path: string,
  src: Entry,
  fixMode: boolean,
  times = true,
  owner?: { uid?: number; gid?: number },
  /** Owners are mirrored here: a file's setuid/setgid bits are kept (its owner is the source's). */
  owners = false,
): void {
  // Owner first (chown clears setuid/setgid bits), then the mode, then the times.
  const chown = owner?.uid !== undefined && owner.gid !== undefined ? [owner.uid, owner.gid] : undefined;
  const mode = mirroredMode(src, owners || chown !== undefined);
  // An opened folder's own handle path (access.ts `io`): it designates exactly that folder.
  if (HANDLE_PATH.test(path)) {
    if (chown) chownSync(path, chown[0] as number, chown[1] as number);
    if (fixMode || chown) chmodSync(path, mode);
    if (times) utimesSync(path, timeArg(src.atimeMs), timeArg(src.mtimeMs));
    return;
  }
  // chmod and utimes follow links: one swapped in since the listing must not redirect them outside the replica.
  // On Linux the entry is opened first without following it (O_PATH) and changed through that descriptor.
  const fd = O_PATH ? openSync(path, O_PATH | constants.O_NOFOLLOW) : undefined;
  const target = fd === undefined ? path : `/proc/self/fd/${fd}`;
  try {
    const st = fd === undefined ? lstatSync(path) : fstatSync(fd);
    if (st.isSymbolicLink()) throw new ReplicaChangedError(path);
    if (chown) chownSync(target, chown[0] as number, chown[1] as number);
    if (fixMode || chown) chmodSync(target, mode);
    if (times) utimesSync(target, timeArg(src.atimeMs), timeArg(src.mtimeMs));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `/proc/self/fd/<n>`: an opened folder's handle path (access.ts). */
const HANDLE_PATH = /^\/proc\/self\/fd\/\d+$/;
/** Linux O_PATH (not in fs.constants); 0 where there is no /proc to reach the descriptor through. */
const O_PATH = process.platform === 'linux' ? 0o10000000 : 0;

/**
 * Rename a replica entry in place to another spelling of the same name (a case- or normalisation-only rename
 * on a replica that compares names without them). A file system that takes it as a no-op (the name does not
 * change in its listing) gets it in two steps through a temporary name.
 */
export function renameInPlace(dir: string, from: string, to: string): void {
  renameSync(join(dir, from), join(dir, to));
  if (readdirSync(dir).includes(to)) return;
  const tmp = join(dir, tempName());
  renameSync(join(dir, from), tmp);
  renameSync(tmp, join(dir, to));
}

/** Put a folder's permission bits back (after opening it did not help). */
export function setMode(path: string, mode: number): void {
  chmodSync(path, mode);
}

/** A new folder starts owner-writable so its contents can be written; its real mode is set after them. */
export function makeDir(path: string): void {
  try {
    mkdirSync(path, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    // Its parent was just listed (or made) by this pass: a missing-entry error here is the name refused.
    if (NAME_REFUSALS.has(code) && exists(dirname(path))) throw new RefusedNameError(code);
    throw error;
  }
}

/** Remove one non-folder entry: the link itself, never what it points to. A file's blocks are freed beside the pass (free-later.ts). */
export function removeNonDir(path: string, entry?: Entry): void {
  const held = holdBlocks(path, entry);
  try {
    unlinkSync(path);
  } finally {
    releaseBlocks(held);
  }
}

export function removeEmptyDir(path: string): void {
  rmdirSync(path);
}

/** Make a replica folder writable and searchable by its owner (read-only folders must still be mirrored into). */
export function ensureOwnerAccess(path: string, mode: number): boolean {
  if ((mode & 0o700) === 0o700) return false;
  chmodSync(path, mode | 0o700);
  return true;
}
