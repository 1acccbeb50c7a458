/**
 * Freeing a replaced or removed replica file's blocks beside the pass, not in it (issue 16). When the last name
 * of a file that holds data goes (an unlink, or a rename over it), ext4 and most file systems free its blocks
 * inside that call: ~200 us a file on the bench disk, about a quarter of an incremental pass (1,000 files
 * replaced, 500 removed). A file still open somewhere is freed at its last close instead. So the pass first opens
 * such a file as a Linux O_PATH handle (no open of the file itself: nothing a device or FIFO swapped in would
 * notice, no read permission needed, no link followed), makes its change, and closes the handle asynchronously:
 * the close, and with it the freeing, runs on libuv's thread pool while the walk goes on. Nothing else changes:
 * the rename or unlink is the same call, and a file that cannot be held (any error) is changed as before.
 * Linux only (O_PATH); elsewhere, and for empty files, files with other links, and folders, there is nothing to do.
 * Local disk file systems only (HOLDS_ON): on NFS a file whose dentry is still referenced (an O_PATH handle is
 * one) is not removed but silly-renamed to `.nfsXXXX` until the last close (fs/nfs/dir.c nfs_unlink/nfs_rename),
 * so a removed folder's rmdir would find it not empty and the replica would show `.nfs` files mid-pass.
 * `FOLDER_SYNC_FREE_LATER=0` turns it off (the bench's A/B).
 */
import { close, closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Entry } from './entry.js';
import { LOCAL_DISKS, onLocalDisk } from './fs-type.js';
import { O_NOFOLLOW, O_PATH } from './handles.js';

/**
 * The process's limit of open files (its soft limit; Node raises it to the hard one at start), from
 * /proc/self/limits; Infinity where it cannot be read.
 */
export function openFilesLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line?.[1] === undefined || line[1] === 'unlimited' ? Infinity : Number(line[1]);
  } catch {
    return Infinity;
  }
}

/**
 * Handles waiting for their close at most; past this the pass frees in its own calls again. An eighth of the
 * descriptor limit at most (review 11): updates renamed beside the walk (walk-late.ts) hold theirs until they are
 * settled, up to 63 at a time, and under a limit of 40 the pass's own opens then failed with EMFILE.
 */
const MAX_HELD = Math.min(64, Math.floor(openFilesLimit() / 8));
let held = 0;
let closed = 0;
/** Waiting for every handle to be closed (`allReleased`). */
const drained: (() => void)[] = [];
/** The file systems (as fs-type.ts names their statfs type) where holding is worth it and changes nothing else (fs-type.ts onLocalDisk). */
export const HOLDS_ON: ReadonlySet<string> = LOCAL_DISKS;
const enabled = process.platform === 'linux' && process.env['FOLDER_SYNC_FREE_LATER'] !== '0';

/** A handle keeping `entry`'s blocks until `release` (undefined: nothing worth holding, or it could not be had). */
export function holdBlocks(path: string, entry: Entry | undefined): number | undefined {
  if (!enabled || !entry || entry.type !== 'file' || entry.size === 0 || entry.links !== undefined || held >= MAX_HELD) return undefined;
  try {
    const fd = openSync(path, O_PATH | O_NOFOLLOW);
    try {
      // Whatever is at the name now: only a regular file on a local disk file system is held (see the top).
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile() || !onLocalDisk(fd, st.dev)) {
        closeSync(fd);
        return undefined;
      }
    } catch {
      closeSync(fd);
      return undefined;
    }
    held++;
    return fd;
  } catch {
    return undefined;
  }
}

/** Close a `holdBlocks` handle on the thread pool (the file's blocks are freed there if its last name is gone). */
export function releaseBlocks(fd: number | undefined): void {
  if (fd === undefined) return;
  close(fd, () => {
    held--;
    closed++;
    if (held === 0) for (const wake of drained.splice(0)) wake();
  });
}

/**
 * Resolves once every handle taken so far is closed, and so the blocks of what was replaced or removed are freed
 * (walk-late.ts: a full disk while updates were pending). Handles still held wait for their own release first.
 */
export function allReleased(): Promise<void> {
  return held === 0 ? Promise.resolve() : new Promise((resolve) => drained.push(resolve));
}

/** Tests: handles open now, and closed so far by this process. */
export const heldBlocks = (): { open: number; closed: number } => ({ open: held, closed });
