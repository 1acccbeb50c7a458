import { closeSync, fchmodSync, fchownSync, fstatSync, ftruncateSync, futimesSync, readSync, writeSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { EntryChangedError, timeArg, type OpenFolder } from './access.js';
import { sameMtime, toMs, type Entry } from './entry.js';
import { mirroredMode } from './plan.js';

/**
 * The file-system side effects of a pass, one function per kind of change, all through opened folders
 * (access.ts): every source file is read by name from its opened folder, every replica change is made by name
 * in its opened folder, metadata through descriptors. Nothing is done through a path the kernel re-resolves.
 *
 * Ownership follows `rsync -a` / `cp -a`: a pass run as root (`owners`) gives copies the source's numeric owner
 * and group (links too, with lchown) before their mode, so a setuid/setgid file is only ever owned by the
 * source file's owner; a pass that cannot set owners drops the setuid/setgid bits from files (as GNU cp does).
 */

/** The source changed while it was copied: the copy is discarded, never installed. */
export class SourceChangedError extends Error {
  constructor(readonly path: string) {
    super('the file changed while it was copied');
  }
}

const COPY_CHUNK = 1 << 20;
let copyBuffer: Buffer | undefined;
const SET_ID_BITS = 0o6000;

/** Is this pass mirroring owners (run as root)? */
export const mirrorsOwners = (): boolean => process.getuid?.() === 0;

export interface CopyOptions {
  owners: boolean;
  /** Told when the setuid/setgid bits of a copy were dropped (for a debug line). */
  onDropped?: (reason: string) => void;
}

/**
 * Copy the regular file `src` (listed in `from`) into a new temporary in `to`, with the source's owner (root),
 * mode and times already set. Returns the temporary's name; the caller installs it with `installTemp` (or drops
 * it with `discardTemp`).
 *
 * Our own read/write loop, not fs.copyFileSync: Node 20's copyFileSync (libuv 1.46) loops forever when the
 * source shrinks during the copy (copy_file_range returns 0 before the size it expects), which hung the pass
 * with its lock held. Here the end of the file ends the copy and a size change is caught at once.
 */
export function copyToTemp(from: OpenFolder, to: OpenFolder, src: Entry, opts: CopyOptions): string {
  const where = join(from.path, src.name);
  // No-follow, non-blocking, and the inode listed: a link, a FIFO or another file in its place is a change.
  let opened: { fd: number; stat: BigIntStats };
  try {
    opened = from.openFile(src.name, src);
  } catch (error) {
    if (error instanceof EntryChangedError) throw new SourceChangedError(where);
    throw error;
  }
  let tmp: string | undefined;
  try {
    const out = to.createTemp();
    tmp = out.name;
    try {
      // A file with holes (fewer blocks than its size needs) is copied sparse: its holes stay holes.
      const sparse = opened.stat.blocks * 512n < opened.stat.size;
      copyBytes(opened.fd, out.fd, src.size, where, sparse ? Number(opened.stat.blksize) || 4096 : 0);
      // Any write during the copy moves ctime (which no one can set back), even a same-size one within the
      // same millisecond that the size/mtime check below cannot see.
      if (fstatSync(opened.fd, { bigint: true }).ctimeNs !== opened.stat.ctimeNs) throw new SourceChangedError(where);
      let mode = mirroredMode(src, opts.owners);
      if (opts.owners && src.uid !== undefined && src.gid !== undefined) {
        try {
          fchownSync(out.fd, src.uid, src.gid);
        } catch (error) {
          // A file system without owners (or a squashed root): never a setuid file owned by someone else.
          mode &= ~SET_ID_BITS;
          if (src.mode & SET_ID_BITS) opts.onDropped?.(`its owner cannot be set (${describeError(error)})`);
        }
      } else if (src.mode & SET_ID_BITS) {
        opts.onDropped?.('not running as root');
      }
      fchmodSync(out.fd, mode);
      futimesSync(out.fd, timeArg(src.atimeMs), timeArg(src.mtimeMs));
    } finally {
      closeSync(out.fd);
    }
    const after = from.lstat(src.name);
    if (!after.isFile() || after.ino !== opened.stat.ino || Number(after.size) !== src.size || !sameMtime(toMs(after.mtimeNs), src.mtimeMs)) {
      throw new SourceChangedError(where);
    }
  } catch (error) {
    if (tmp !== undefined) discardTemp(to, tmp);
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' && tmp !== undefined ? new SourceChangedError(where) : error;
  } finally {
    closeSync(opened.fd);
  }
  return tmp;
}

/**
 * Copy exactly `expected` bytes; a file that ends early or goes on past them has changed. With `holeBlock` (the
 * file system's block size) the copy is sparse: all-zero blocks are not written (positional writes, the size
 * set at the end), so the file systems that keep holes keep them. Node has no SEEK_DATA: the holes are read
 * (as zeros, from no disk) and recognised by their contents; copy_file_range (fs.copyFile) writes them out in
 * full on ext4 and tmpfs, so it is not used (docs/security.md).
 */
function copyBytes(inFd: number, outFd: number, expected: number, srcPath: string, holeBlock = 0): void {
  const buf = (copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK));
  let total = 0;
  for (;;) {
    // Ask for one byte past the expected end: a growing file is caught without reading all of it.
    const n = readSync(inFd, buf, 0, Math.min(buf.length, expected + 1 - total), total);
    if (n === 0) break;
    if (total + n > expected) throw new SourceChangedError(srcPath);
    if (holeBlock > 0) writeSparse(outFd, buf, n, total, holeBlock);
    else for (let off = 0; off < n;) off += writeSync(outFd, buf, off, n - off);
    total += n;
  }
  if (total !== expected) throw new SourceChangedError(srcPath);
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

/** A temporary symlink in `to` (owned like the source's when owners are mirrored), to be installed with `installTemp`. */
export function symlinkToTemp(to: OpenFolder, src: Pick<Entry, 'target' | 'uid' | 'gid'>, owners: boolean): string {
  const tmp = to.createTempLink(src.target ?? '');
  if (owners && src.uid !== undefined && src.gid !== undefined) {
    try {
      to.lchown(tmp, src.uid, src.gid);
    } catch (error) {
      discardTemp(to, tmp);
      throw error;
    }
  }
  return tmp;
}

/** Rename a complete temporary over `name` in the same folder (atomic; replaces a file or link, never a folder). */
export function installTemp(folder: OpenFolder, tmp: string, name: string): void {
  try {
    folder.rename(tmp, name);
  } catch (error) {
    discardTemp(folder, tmp);
    throw error;
  }
}

/** Remove a temporary that will not be installed (quietly: it may be gone already). */
export function discardTemp(folder: OpenFolder, tmp: string): void {
  try {
    folder.unlink(tmp);
  } catch {
    // already gone
  }
}

export interface Meta {
  mode?: number;
  atimeMs: number;
  mtimeMs: number;
  uid?: number;
  gid?: number;
}

/** What a folder's or file's metadata becomes: mode (when `fixMode`), times, and the owner when mirrored and different. */
function metaOf(src: Entry, dst: Partial<Pick<Entry, 'uid' | 'gid'>> | undefined, fixMode: boolean, owners: boolean): Meta {
  const meta: Meta = { atimeMs: src.atimeMs, mtimeMs: src.mtimeMs };
  const chown = owners && src.uid !== undefined && src.gid !== undefined && (dst?.uid !== src.uid || dst?.gid !== src.gid);
  if (chown) Object.assign(meta, { uid: src.uid, gid: src.gid });
  // chown clears setuid/setgid: the mode is set again after it.
  if (fixMode || chown) meta.mode = mirroredMode(src, owners);
  return meta;
}

/** Give an opened replica folder the source folder's metadata (owner first, then mode, then times). */
export function setFolderMeta(
  folder: OpenFolder,
  src: Entry,
  dst: Partial<Pick<Entry, 'uid' | 'gid'>> | undefined,
  fixMode: boolean,
  owners: boolean,
): void {
  const meta = metaOf(src, dst, fixMode, owners);
  if (meta.uid !== undefined && meta.gid !== undefined) folder.setOwner(meta.uid, meta.gid);
  if (meta.mode !== undefined) folder.setMode(meta.mode);
  folder.setTimes(meta.atimeMs, meta.mtimeMs);
}

/** Fix a replica file's metadata in place (the 'meta' step), through a descriptor: never through a swapped-in link. */
export function setFileMeta(folder: OpenFolder, src: Entry, dst: Entry, owners: boolean): void {
  folder.setFileMeta(src.name, dst, metaOf(src, dst, mirroredMode(src, owners) !== dst.mode, owners));
}

/** Make an opened replica folder writable and searchable by its owner (read-only folders are still mirrored into). */
export function ensureOwnerAccess(folder: OpenFolder, mode: number): boolean {
  if ((mode & 0o700) === 0o700) return false;
  folder.setMode(mode | 0o700);
  return true;
}
