import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RefusedNameError } from './capabilities.js';
import type { OpenFolder } from './access.js';
import { timeArg } from './times.js';
import { exists, sameMtime, toMs, type Entry } from './entry.js';
import { mirroredMode } from './plan.js';
import { holdBlocks, releaseBlocks } from './free-later.js';
import { tempName } from './temp.js';

/**
 * The file-system side effects of a pass, one function per kind of change. Every write goes to a path
 * built from a folder this pass has lstat-ed as a real folder, so nothing is written through a link.
 */

/** The source changed while it was copied: the copy is discarded, never installed. */
export class SourceChangedError extends Error {
  constructor(readonly path: string) {
    super('the file changed while it was copied');
  }
}

const COPY_CHUNK = 1 << 20;
let copyBuffer: Buffer | undefined;

/** How a copy's metadata is set. */
export interface CopyOptions {
  /** Permission bits stick on the replica (capabilities). */
  modes?: boolean;
  /** Owners are mirrored (root, on a replica that keeps them): the copy gets the source's owner and group. */
  owners?: boolean;
  /** Told when a copy's setuid/setgid bits were dropped (for a debug line). */
  onDropped?: (reason: string) => void;
}

/** Is this pass run as root (owners can be given away)? */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * Where a copy reads and writes: two opened folders (`folderEnds`: the walk, restore), or the copy helper's
 * `/proc/self/fd` names of the same folders (copy-batch.ts). `tmp` is the temporary's name in the target folder.
 */
export interface CopyEnds {
  /** For messages: the source file. */
  readonly srcPath: string;
  /** Open the source for reading: no link followed, no FIFO waited on (O_NOFOLLOW | O_NONBLOCK). */
  openSource(): number;
  /** Create the temporary (O_EXCL, 0600, not following a link). */
  createTemp(): { tmp: string; fd: number };
  /** Remove a temporary that will not be installed (quietly). */
  discard(tmp: string): void;
}

/** Ends through opened folders: `name` in `from`, the temporary in `into` (access.ts; only names are resolved). */
export function folderEnds(from: OpenFolder, name: string, into: OpenFolder): CopyEnds {
  return {
    srcPath: join(from.path, name),
    openSource: () => from.openRead(name),
    createTemp: () => {
      const { name: tmp, fd } = into.createTemp();
      return { tmp, fd };
    },
    discard: (tmp) => discardIn(into, tmp),
  };
}

/**
 * Copy a regular file into a new temporary beside its target, with the source's owner, mode and times already
 * set. Returns the temporary's name; the caller installs it with `installIn` (or drops it with `ends.discard`).
 *
 * Our own read/write loop, not fs.copyFileSync: Node 20's copyFileSync (libuv 1.46) loops forever when the
 * source shrinks during the copy (copy_file_range returns 0 before the size it expects), which hung the pass
 * with its lock held. Here the end of the file ends the copy and a size change is caught at once.
 */
export function copyWith(ends: CopyEnds, src: Entry, opts: CopyOptions = {}): string {
  const srcPath = ends.srcPath;
  // No-follow and non-blocking: a source swapped for a link or a FIFO since the listing is a change, not a hang.
  let inFd: number;
  try {
    inFd = ends.openSource();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new SourceChangedError(srcPath);
    throw error;
  }
  let tmp: string | undefined;
  try {
    const opened = fstatSync(inFd, { bigint: true });
    if (!opened.isFile()) throw new SourceChangedError(srcPath);
    const created = ends.createTemp();
    tmp = created.tmp;
    const outFd = created.fd;
    try {
      // A file with holes (fewer blocks than its size needs) is copied sparse: its holes stay holes.
      const sparse = opened.blocks * 512n < opened.size;
      copyBytes(inFd, outFd, src.size, srcPath, sparse ? Number(opened.blksize) || 4096 : 0);
      // Any write during the copy moves ctime (which no one can set back), even a same-size one within the
      // same millisecond that a size/mtime check cannot see; and the file must still be the one listed. The
      // open descriptor is asked (no second lookup of the name): what was read is that file's content.
      const after = fstatSync(inFd, { bigint: true });
      if (after.ctimeNs !== opened.ctimeNs || after.size !== BigInt(src.size) || !sameMtime(toMs(after.mtimeNs), src.mtimeMs)) {
        throw new SourceChangedError(srcPath);
      }
      // Owner first (chown clears setuid/setgid), then the mode: a setuid/setgid copy is only ever owned by
      // the source file's owner; where that cannot be (not root, or no owners there) the bits are dropped.
      let mode = mirroredMode(src, opts.owners ?? false);
      if (opts.owners && src.uid !== undefined && src.gid !== undefined) {
        try {
          fchownSync(outFd, src.uid, src.gid);
        } catch (error) {
          mode = mirroredMode(src, false);
          if (mode !== src.mode) opts.onDropped?.(`its owner cannot be set (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      } else if (mode !== src.mode) {
        opts.onDropped?.('its owner is not mirrored (not running as root, or the replica keeps no owners)');
      }
      if (opts.modes ?? true) chmodKeepingData(() => fchmodSync(outFd, mode));
      futimesSync(outFd, timeArg(src.atimeMs), timeArg(src.mtimeMs));
    } finally {
      closeSync(outFd);
    }
    return tmp;
  } catch (error) {
    if (tmp !== undefined) ends.discard(tmp);
    throw error;
  } finally {
    closeSync(inFd);
  }
}

/** Errors of a file system that has no permission bits to set (fusefat, some NAS shares): not the data's problem. */
const NO_MODES = new Set(['ENOSYS', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP']);

/** Set permission bits on a new copy; where the file system cannot keep them, the copy is installed all the same. */
function chmodKeepingData(chmod: () => void): void {
  try {
    chmod();
  } catch (error) {
    if (!NO_MODES.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
}

/**
 * Copy exactly `expected` bytes; a file that ends early has changed (one that goes on past them: the caller's fstat). With `holeBlock` (the
 * file system's block size) the copy is sparse: all-zero blocks are not written (positional writes, the size
 * set at the end), so the file systems that keep holes keep them. Node has no SEEK_DATA: the holes are read
 * (as zeros, from no disk) and recognised by their contents; copy_file_range (fs.copyFile) writes them out in
 * full on ext4 and tmpfs, so it is not used (docs/security.md).
 */
function copyBytes(inFd: number, outFd: number, expected: number, srcPath: string, holeBlock = 0): void {
  const buf = (copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK));
  let total = 0;
  // Read up to the expected size, no further: a file that grew is caught by the caller's fstat (its size and
  // ctime), which saves a read per file that would only have returned end-of-file.
  while (total < expected) {
    const n = readSync(inFd, buf, 0, Math.min(buf.length, expected - total), total);
    if (n === 0) throw new SourceChangedError(srcPath); // it ends early: it shrank
    if (holeBlock > 0) writeSparse(outFd, buf, n, total, holeBlock);
    else for (let off = 0; off < n;) off += writeSync(outFd, buf, off, n - off);
    total += n;
  }
  if (holeBlock > 0) ftruncateSync(outFd, expected); // a hole at the end is a size, not a write
}

let zeroBlock: Buffer | undefined;

/** Write the `n` bytes of `buf` that belong at `position`, skipping the blocks that are all zeros. */
function writeSparse(fd: number, buf: Buffer, n: number, position: number, block: number): void {
  const zero = zeroBlock && zeroBlock.length === block ? zeroBlock : (zeroBlock = Buffer.alloc(block));
  let runStart = -1;
  for (let off = 0; off < n; off += block) {
    const end = Math.min(off + block, n);
    const isZero = buf.compare(zero, 0, end - off, off, end) === 0;
    if (!isZero && runStart < 0) runStart = off;
    if (isZero && runStart >= 0) {
      writeAt(fd, buf, runStart, off, position);
      runStart = -1;
    }
  }
  if (runStart >= 0) writeAt(fd, buf, runStart, n, position);
}

function writeAt(fd: number, buf: Buffer, from: number, to: number, position: number): void {
  for (let off = from; off < to;) off += writeSync(fd, buf, off, to - off, position + off);
}

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
  try {
    folder.rename(tmp, name);
  } catch (error) {
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
    throw refused ? new RefusedNameError(code) : error;
  }
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
export function setMeta(path: string, src: Entry, fixMode: boolean, times = true, owner?: { uid?: number; gid?: number }): void {
  // Owner first (chown clears setuid/setgid bits), then the mode, then the times.
  const chown = owner?.uid !== undefined && owner.gid !== undefined ? [owner.uid, owner.gid] : undefined;
  const mode = mirroredMode(src, chown !== undefined);
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

/** Remove a capability probe folder left by a killed pass (this tool's own, holding only its own entries). */
export function removeProbeLeftover(path: string): void {
  rmSync(path, { recursive: true, force: true });
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

/** Remove a temporary that will not be installed (quietly: it may never have been created). */
export function discardIn(folder: OpenFolder, tmp: string): void {
  try {
    folder.unlink(tmp);
  } catch {
    // never created, or already gone
  }
}
