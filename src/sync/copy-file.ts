/**
 * The copy of a regular file's bytes into a new temporary beside its target, with the source's owner, mode and
 * times set on the temporary's descriptor (installing it: apply.ts `installIn`). Also the module of the copy
 * helper thread (copy-batch.ts), so it imports no more than a copy needs.
 */
import { closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenFolder } from './access.js';
import { timeArg } from './times.js';
import { sameMtime, type Entry } from './entry.js';
import { fileStat } from './raw-lstat.js';
import { mirroredMode } from './plan.js';
import { readAhead } from './read-ahead.js';

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
  /**
   * The copy goes into a folder being built (walk-build.ts): the group of that folder (made by this pass, this
   * user's and 0700). A file created there is this user's, with the user's group where the folder's is that
   * too (whether the folder passes its group on or not): where the source's owner and group are just those,
   * the chown would change nothing and is not made.
   */
  building?: { gid: number };
}

/** The pass's user and group (-1 where there are none: Windows). */
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

/** The new copy is already owned as the source is (a folder being built: CopyOptions.building), so no chown is needed. */
export function ownedAsSource(src: Pick<Entry, 'uid' | 'gid'>, building: { gid: number } | undefined): boolean {
  return building !== undefined && EUID >= 0 && src.uid === EUID && src.gid === EGID && building.gid === EGID;
}

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

/**
 * Create the file to copy into: under its own name `name` when `direct` (a folder being built: walk-build.ts),
 * else, or when that name cannot be created (taken, refused), a temporary, whose way reports the name as it always
 * does. `tmp` is `name` for a file created under its own name (`installIn` then leaves it as it is).
 */
export function createTarget(
  direct: boolean,
  name: string,
  create: (name: string) => number,
  temporary: () => { tmp: string; fd: number },
): { tmp: string; fd: number } {
  if (direct) {
    try {
      return { tmp: name, fd: create(name) };
    } catch {
      // taken or refused: through a temporary
    }
  }
  return temporary();
}

/**
 * Ends through opened folders: `name` in `from`, the temporary in `into` (access.ts; only names are resolved).
 * `direct`: `into` is a new folder being built under a temporary name: the file is written under its own name
 * (`createTarget`).
 */
export function folderEnds(from: OpenFolder, name: string, into: OpenFolder, direct = false): CopyEnds {
  return {
    get srcPath() {
      return join(from.path, name); // for messages only: made when one is needed
    },
    openSource: () => from.openRead(name),
    createTemp: () =>
      createTarget(
        direct,
        name,
        (n) => into.createNew(n),
        () => {
          const { name: tmp, fd } = into.createTemp();
          return { tmp, fd };
        },
      ),
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
  // No-follow and non-blocking: a source swapped for a link or a FIFO since the listing is a change, not a hang.
  let inFd: number;
  try {
    inFd = ends.openSource();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new SourceChangedError(ends.srcPath);
    throw error;
  }
  let tmp: string | undefined;
  try {
    const opened = fileStat(inFd);
    if ((opened.mode & constants.S_IFMT) !== constants.S_IFREG) throw new SourceChangedError(ends.srcPath);
    const created = ends.createTemp();
    tmp = created.tmp;
    const outFd = created.fd;
    try {
      // A file with holes (fewer blocks than its size needs) is copied sparse: its holes stay holes.
      const sparse = opened.blocks * 512 < opened.size;
      copyBytes(inFd, outFd, src.size, ends, opened.dev, sparse ? opened.blksize || 4096 : 0);
      // Any write during the copy moves ctime (which no one can set back), even a same-size one within the
      // same millisecond that a size/mtime check cannot see; and the file must still be the one listed. The
      // open descriptor is asked (no second lookup of the name): what was read is that file's content.
      const after = fileStat(inFd);
      const ctimeMoved = after.ctimeS !== opened.ctimeS || after.ctimeNs !== opened.ctimeNs;
      if (ctimeMoved || after.size !== src.size || !sameMtime(after.mtimeMs, src.mtimeMs)) {
        throw new SourceChangedError(ends.srcPath);
      }
      // Owner first (chown clears setuid/setgid), then the mode: a setuid/setgid copy is only ever owned by
      // the source file's owner; where that cannot be (not root, or no owners there) the bits are dropped.
      let mode = mirroredMode(src, opts.owners ?? false);
      if (opts.owners && src.uid !== undefined && src.gid !== undefined && !ownedAsSource(src, opts.building)) {
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
function copyBytes(inFd: number, outFd: number, expected: number, ends: CopyEnds, dev: number, holeBlock = 0): void {
  const buf = (copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK));
  const ahead = readAhead(inFd, expected, dev); // a large file: its next ranges queued for reading meanwhile
  let total = 0;
  try {
    // Read up to the expected size, no further: a file that grew is caught by the caller's fstat (its size and
    // ctime), which saves a read per file that would only have returned end-of-file.
    while (total < expected) {
      ahead?.at(total);
      const n = readSync(inFd, buf, 0, Math.min(buf.length, expected - total), total);
      if (n === 0) throw new SourceChangedError(ends.srcPath); // it ends early: it shrank
      if (holeBlock > 0) writeSparse(outFd, buf, n, total, holeBlock);
      else for (let off = 0; off < n;) off += writeSync(outFd, buf, off, n - off);
      total += n;
    }
  } finally {
    ahead?.end();
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

/** Remove a temporary that will not be installed (quietly: it may never have been created). */
export function discardIn(folder: OpenFolder, tmp: string): void {
  try {
    folder.unlink(tmp);
  } catch {
    // never created, or already gone
  }
}
