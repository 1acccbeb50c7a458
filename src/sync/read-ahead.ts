/**
 * Reads queued ahead of a large file's copy (issue 16, session 7), so the disk has more than one request to
 * work on while the copy reads and writes in turn.
 *
 * The copy's own loop is synchronous: one 1 MiB read, then its write, then the next read. On this bench
 * machine's virtual disk that leaves the disk idle between requests, and how long each takes depends on how long
 * the disk was idle before: 1 GiB copied cold in 0.6 s to 3.4 s by the same loop (cp -a, which asks the kernel for
 * a larger read-ahead with posix_fadvise, something Node cannot ask, 0.45-1.2 s). Here, before each read of the
 * copy, reads of the next ranges (up to AHEAD bytes past it, CHUNK bytes each) are queued on libuv's thread pool
 * into a scratch buffer nobody looks at: they only bring the file's pages into the page cache, where the copy's
 * own read then finds them. Measured on the large bench tree copied cold, idle: 4 MiB reads up to 16 MiB ahead
 * against none, twelve alternating rounds, median 1.32 s against 1.72 s (slowest 1.57 against 2.75 s); the
 * 8 MiB reads up to 64 MiB ahead kept here against those, ten rounds, 1.29 s against 1.63 s (docs/benchmark.md).
 *
 * What it reads through: a second descriptor of the very file the copy opened (`/proc/self/fd/<fd>` reopens that
 * open file's inode, not a name: nothing a name now leads to is read), read-only, closed when its last queued
 * read has called back (on the event loop: at the latest at the pass's next turn of it), never more than
 * MAX_OPEN of them at once. It never affects what is copied: the copy reads every byte itself, and any error here is
 * ignored. Only files of MIN_SIZE or more on a local disk (ext4, XFS, Btrfs, F2FS; not a tmpfs, a network or a
 * FUSE file system) on Linux are read ahead; FOLDER_SYNC_READ_AHEAD=0 turns it off (A/B).
 */
import { close, constants, openSync, read } from 'node:fs';
import { onLocalDisk } from './fs-type.js';

/** Files smaller than this are copied without reads ahead (a few requests; the thread pool's round trip costs more). */
export const MIN_SIZE = 8 << 20;
/** One queued read. */
const CHUNK = 8 << 20;
/** How far past the copy's position reads are queued. */
const AHEAD = 64 << 20;

/**
 * At most this many second descriptors at once. Each is closed when its last read calls back, which happens on
 * the event loop: the pass turns it only between steps, every 100 ms or so (pass-report.ts `breathe`), so a
 * folder of many large files would otherwise hold one more descriptor per file until then (a review found a pass
 * failing with EMFILE under a descriptor limit of 64). A copy that finds all of them in use is made without.
 */
export const MAX_OPEN = 4;
let openNow = 0;

/** How many second descriptors are open now (each counted until its close has called back). */
export const readAheadsOpen = (): number => openNow;

let scratch: Buffer | undefined;

/** Reads ahead of one copy: `at(position)` before each of its reads, `end()` once it is done or failed. */
export interface ReadAhead {
  at(position: number): void;
  end(): void;
}

const enabled = (): boolean => process.platform === 'linux' && process.env.FOLDER_SYNC_READ_AHEAD !== '0';

/** Reads ahead of a copy of `size` bytes from `fd` (on device `dev`), or undefined where there are none to make. */
export function readAhead(fd: number, size: number, dev: number | bigint): ReadAhead | undefined {
  if (size < MIN_SIZE || openNow >= MAX_OPEN || !enabled()) return undefined;
  // Only on a local disk: a file in memory (tmpfs) has no disk to keep busy, and on a network or FUSE file
  // system a read ahead may cost a second transfer of the same bytes.
  if (!onLocalDisk(fd, dev)) return undefined;
  let ahead: number;
  try {
    ahead = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined; // no /proc, or the file cannot be opened again: copied without
  }
  openNow++;
  const buf = (scratch ??= Buffer.allocUnsafe(CHUNK));
  let queued = 0;
  let pending = 0;
  let ended = false;
  const closeWhenDone = (): void => {
    if (!ended || pending !== 0) return;
    pending = -1; // closed once
    close(ahead, () => openNow--);
  };
  const back = (): void => {
    pending--;
    closeWhenDone();
  };
  return {
    at(position) {
      const until = Math.min(position + AHEAD, size);
      for (; !ended && queued < until; queued += CHUNK) {
        pending++;
        read(ahead, buf, 0, CHUNK, queued, back);
      }
    },
    end() {
      if (ended) return;
      ended = true;
      closeWhenDone();
    },
  };
}
