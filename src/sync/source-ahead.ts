/**
 * The pass's side of reading new subtrees' source files ahead (issue 16, session 13; the reader and its rules:
 * source-ahead-read.ts). When the pass creates a replica folder, everything under its source folder is copied;
 * a thread then reads those files ahead of the copy, many at a time, so the copy's own reads (one at a time per
 * copying thread) find them in the page cache. Measured on the bench VM, the small tree copied cold: 13.0 s ->
 * 7.8 s (rsync 9.2-10.6 s; docs/benchmark.md).
 *
 * When: a real pass of the CLI (not a dry run) with no exclude rules (excluded files would be read for nothing),
 * once START_AFTER copies of the new subtree are started, in the
 * 'fd' access mode (Linux: the reader names entries through folder handles), with the source on a local disk
 * (ext4, XFS, Btrfs, F2FS: on a tmpfs there is nothing to wait for, and on a network or FUSE file system a read
 * ahead may cost a second transfer). One subtree at a time: a new folder inside one being read is part of it.
 * FOLDER_SYNC_SOURCE_AHEAD=0 turns it off (A/B); =1 turns it on whatever the file system (tests);
 * FOLDER_SYNC_TEST_SOURCE_AHEAD=first (tests): the pass waits until the whole subtree is read, so what was read
 * does not depend on timing.
 */
import { closeSync, constants, openSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { heapFlagsForWorkers } from '../heap.js';
import { accessMode, type OpenFolder } from './access.js';
import { chdirAllowed } from './entry.js';
import { openFilesLimit } from './free-later.js';
import { onLocalDisk } from './fs-type.js';
import { readMounts } from './path-identity.js';
import { MAX_OPEN } from './source-ahead-read.js';
import { CONSUMED, FINISHED, READ, SEQ, STATE_INTS, type AheadMessage } from './source-ahead-gate.js';

/**
 * Below this limit of open files the reader is not started: a deep tree already needs ~3 descriptors a level of
 * the pass (under a limit of 64, a pass 20 folders deep fails with EMFILE without it), and the reader's share
 * made one 16 deep fail too (test/source-ahead.test.ts). Node raises the soft limit to the hard one, usually
 * 4,096 to 1,048,576.
 */
export const MIN_FILES_LIMIT = 1024;
/** The process's limit of open files, read once (on first use). */
let filesLimit: number | undefined;
const limitNow = (): number => (filesLimit ??= openFilesLimit());
/** Descriptors the reader may hold: an eighth of the limit at most, as free-later.ts holds (128 without a limit). */
const maxOpenNow = (): number => Math.max(2, Math.min(MAX_OPEN, Math.floor(limitNow() / 8)));

let thread: { worker: Worker; state: Int32Array } | undefined;
let failed = false;
let jobs = 0;
/**
 * Each job's top folder: a descriptor this thread opened and closes, once the reader has finished that job (or
 * the reader's thread has ended): a thread that dies takes the descriptors it opened with it (Node closes them),
 * not ones it was handed.
 */
const tops: { seq: number; fd: number }[] = [];

/** Close the top folders of jobs the reader has finished (all of them once it has ended). */
function closeFinished(all = false): void {
  const finishedUpTo = thread && !all ? Atomics.load(thread.state, FINISHED) : Infinity;
  while (tops.length > 0 && (tops[0] as { seq: number }).seq <= finishedUpTo) closeSync((tops.shift() as { fd: number }).fd);
}

/** Files read ahead so far in this process (for the pass's debug line). */
export const filesReadAhead = (): number => (thread ? Atomics.load(thread.state, READ) : 0);

function threadFor(): { worker: Worker; state: Int32Array } | undefined {
  if (thread || failed) return thread;
  try {
    const state = new Int32Array(new SharedArrayBuffer(STATE_INTS * 4));
    const worker = new Worker(new URL('./source-ahead-worker.js', import.meta.url), {
      workerData: { state, v8Flags: heapFlagsForWorkers() },
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    });
    const ended = (): void => {
      failed = true; // only an optimisation: the pass copies as it would without it
      thread = undefined;
      closeFinished(true);
    };
    worker.on('error', ended);
    worker.on('exit', ended);
    // A job finished after the pass left its subtree: its top folder is closed now, not at the next job (a `run`
    // between passes would hold it open, and an unmount of the source would fail: review 15).
    worker.on('message', () => closeFinished());
    // Never keeps the process alive: after the listeners (a 'message' listener refs the worker's port again).
    worker.unref();
    thread = { worker, state };
  } catch {
    failed = true;
  }
  return thread;
}

function wanted(folder: OpenFolder): boolean {
  const setting = process.env['FOLDER_SYNC_SOURCE_AHEAD'];
  // The CLI only, like the copy helper: its modules are the compiled ones beside it (dist/sync/).
  if (setting === '0' || process.platform !== 'linux' || accessMode() !== 'fd' || !chdirAllowed()) return false;
  if (limitNow() < MIN_FILES_LIMIT) return false;
  return setting === '1' || onLocalDisk(folder.fd, folder.dev);
}

/**
 * Copies started in a new subtree before the thread is worth starting: a few new files are copied before a thread
 * would have started (and a thread costs ~13 MiB of peak memory). The reader then starts from the subtree's top;
 * what the pass has copied so far it finds in the page cache.
 */
export const START_AFTER = 256;

/**
 * What is mounted below the real path `real` (paths from it), read from this process's mount table when a job
 * starts: the reader never opens those names (source-ahead-read.ts). A file can be mounted over too (a FUSE file
 * system whose root is a file), and its listing shows only what is beneath. A mount made after the job started,
 * or one below a folder of the subtree renamed after that, is not seen (docs/security.md).
 */
export function mountsBelow(real: string): string[] {
  const prefix = real.endsWith('/') ? real : `${real}/`;
  return readMounts()
    .filter((m) => m.mountPoint.startsWith(prefix))
    .map((m) => m.mountPoint.slice(prefix.length));
}

/** One pass's read-ahead: at most one subtree at a time. */
export class SourceAhead {
  /** The top of the subtree being copied (while the pass is in it), and the copies the pass has started in it. */
  private top: OpenFolder | undefined;
  private copiesStarted = 0;
  private seq = 0;

  /**
   * The pass created the replica folder of `folder` (a source folder it opened): its subtree is read ahead
   * once the pass has started START_AFTER copies in it, unless a subtree is being read already (this one is inside
   * it) or it is not wanted. Returns the job's end, to be called when the pass leaves the folder (or undefined).
   */
  begin(folder: OpenFolder): (() => void) | undefined {
    if (this.top || !wanted(folder)) return undefined;
    this.top = folder;
    this.copiesStarted = 0;
    this.seq = 0;
    const first = process.env['FOLDER_SYNC_TEST_SOURCE_AHEAD'] === 'first';
    if (first) this.start(true);
    return () => {
      this.top = undefined;
      if (this.seq !== 0 && thread) {
        Atomics.store(thread.state, SEQ, 0); // the reader stops at its next look
        Atomics.notify(thread.state, CONSUMED);
      }
      closeFinished();
    };
  }

  /** The pass starts copying `files` files (counted only inside a new subtree): the reader's bound moves on. */
  copying(files: number): void {
    if (!this.top || files === 0) return;
    this.copiesStarted += files;
    if (this.seq === 0) {
      if (this.copiesStarted >= START_AFTER) this.start(false);
    } else if (thread) {
      Atomics.add(thread.state, CONSUMED, files);
      Atomics.notify(thread.state, CONSUMED);
    }
  }

  /** Hand the subtree to the thread (tests, `first`: read it whole, and wait until it is). */
  private start(first: boolean): void {
    const top = this.top;
    const t = top && threadFor();
    if (!top || !t) {
      this.seq = -1; // not this subtree
      return;
    }
    closeFinished();
    let fd: number;
    let skip: string[];
    try {
      // Where the top is now (not the path it was reached by: a folder above may have been renamed since).
      skip = mountsBelow(readlinkSync(`/proc/self/fd/${top.fd}`));
      fd = openSync(`/proc/self/fd/${top.fd}`, constants.O_RDONLY | constants.O_DIRECTORY); // closed here once the job is done
    } catch {
      this.seq = -1;
      return;
    }
    const seq = (this.seq = ++jobs);
    tops.push({ seq, fd });
    Atomics.store(t.state, CONSUMED, this.copiesStarted);
    Atomics.store(t.state, SEQ, seq);
    t.worker.postMessage({ fd, seq, unbounded: first, maxOpen: maxOpenNow(), skip } satisfies AheadMessage);
    // Tests: blocks this thread until the reader is done (its reads run on libuv's pool, not here).
    for (let i = 0; first && i < 100 && Atomics.load(t.state, FINISHED) !== seq; i++)
      Atomics.wait(t.state, FINISHED, Atomics.load(t.state, FINISHED), 100);
  }
}
