// The cold small-copy row's replicas set aside instead of deleted before each run (issue 16, session 13).
//
// The bench's disk here is ext4 without a journal. There, ext4 does not reuse an inode freed in the last 60
// seconds (365 while its inode table block is dirty): each new inode's search steps past every recently freed
// one, looking each up in the buffer cache (fs/ext4/ialloc.c, `recently_deleted`, checked only on file systems
// without a journal). Deleting the previous run's 100,000-file replica just before the next run therefore made
// every create of that run walk past thousands of freed inodes: `perf` put 30% of all samples of a `tar c | tar x`
// copy in `recently_deleted` and the buffer lookups under it, and the tools' kernel time rose from ~10 s to
// 21-25 s. A user's copy does not follow the removal of 100,000 files on the same disk by seconds; the row now
// renames each run's replica into a folder beside it and deletes them all once the row is over (untimed), and
// a later row on the disk that creates files starts at least 61 s after that removal.
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/** How long ext4 keeps a freed inode from reuse (RECENTCY_MIN; clean inode table block), plus a second. */
export const RECENT_MS = 61_000;

export class Aside {
  /** When the last bulk removal ended (ms since the epoch), or 0. */
  removedAt = 0;
  n = 0;

  constructor(dir) {
    this.dir = dir;
  }

  /** Whether `bytes` more fit on the folder's file system with 2 GiB to spare. */
  hasRoom(bytes) {
    try {
      mkdirSync(this.dir, { recursive: true });
      const s = statfsSync(this.dir);
      return s.bavail * s.bsize > bytes + 2 * 2 ** 30;
    } catch {
      return false;
    }
  }

  /** Move `path` (if it exists) into the aside folder, on the same file system: nothing is freed. */
  put(path) {
    if (!existsSync(path)) return;
    mkdirSync(this.dir, { recursive: true });
    renameSync(path, join(this.dir, `replica-${process.pid}-${this.n++}`));
  }

  /** Delete everything set aside (also what a killed bench left); returns the seconds it took. */
  clear() {
    if (!existsSync(this.dir)) return 0;
    const t = performance.now();
    rmSync(this.dir, { recursive: true, force: true });
    this.removedAt = Date.now();
    return (performance.now() - t) / 1000;
  }

  /** Milliseconds until freed inodes are no longer recent (0 when nothing was removed lately). */
  msToWait(now = Date.now()) {
    return this.removedAt === 0 ? 0 : Math.max(0, this.removedAt + RECENT_MS - now);
  }
}
