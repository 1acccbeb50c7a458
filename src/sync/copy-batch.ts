/**
 * Copies on two cores (issue 16): a run of new files in one folder is copied by this thread and a helper
 * thread at once, both taking the next file from one shared counter (as rsync's sender and receiver work at
 * the same time). A batch costs one message however many files it holds.
 *
 * The helper does only the plain case and leaves everything else to the pass: it copies a file into a new
 * temporary and renames it into place through the two folders' handles (`/proc/self/fd/<fd>/<name>`: only the
 * last name is resolved, never followed), checking before each file that the replica folder is still inside
 * its parent. Anything else (the source changed or vanished, a refused name, any error) leaves no temporary and
 * marks the file for the pass, which then copies it itself exactly as without the helper, with its retries,
 * messages and log lines. Log lines come in plan order whoever copied the file.
 */
import { constants, openSync, renameSync, unlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { claimBytes, claimNext, claimState, finishedItems, finishItem, HelperThread, openBatch, STATE, type ClaimState } from './helper-thread.js';
import { copyWith, createTarget, type CopyEnds } from './copy-file.js';
import type { Entry } from './entry.js';
import { guardsHold } from './folder-guards.js';
import { tempName } from './temp.js';

/** Fewer new files in a row than this are copied by the pass alone (a message is not worth it). */
export const MIN_BATCH = 8;
/** Files in one batch at most. */
export const MAX_BATCH = 4096;
/**
 * Only files up to this size go into batches, and a batch holds at most MAX_BATCH_BYTES: a batch runs without
 * yielding to the event loop, so it must stay short (tens of milliseconds) for a signal (`run`'s SIGTERM: "stopping
 * after the current file") or a progress line to come through at about the same moment as without it.
 */
export const MAX_FILE = 1 << 20;
export const MAX_BATCH_BYTES = 16 << 20;

/** Item states. */
const TODO = 0;
const DONE = 1;
const LEFT = 2; // left to the pass (the helper met something other than the plain case)

export interface BatchJob {
  seq: number;
  /** Which of the SLOTS claim states the batch uses. */
  slot: number;
  srcFd: number;
  dstFd: number;
  /**
   * Checked before each file (folder-guards.ts): `<fd>:<dev>:<ino>,...` (walk-replica.ts `guardsOf`): the
   * replica folder and those above it that others could move, each with the identity its `..` must have.
   */
  guards: string;
  /** The replica folder's path where it belongs, where known ('' if not): found there, the guards hold. */
  path: string;
  names: string;
  /** size, mode, uid, gid, atimeMs, mtimeMs per file. */
  nums: Float64Array;
  modes: boolean;
  owners: boolean;
  /** The folder is being built under a temporary name: files are written under their own names (walk-build.ts). */
  direct: boolean;
  /** Where `direct`: the folder's group (copy-file.ts `CopyOptions.building`); else -1. */
  gid: number;
}

/** The claim counter with one state per file (helper-thread.ts). */
export type Shared = ClaimState;

/** Batches under way at once (each with its own claim state): the walk goes on while the helper copies. */
export const SLOTS = 4;

/** The claim states of the SLOTS batches, side by side in one buffer. */
export function sharedOf(buffer = new SharedArrayBuffer(SLOTS * claimBytes(MAX_BATCH))): Shared[] {
  const per = claimBytes(MAX_BATCH);
  return Array.from({ length: SLOTS }, (_, i) => claimState(MAX_BATCH, buffer, i * per));
}

const FIELDS = 6;

export function encodeJob(
  seq: number,
  slot: number,
  srcFd: number,
  dstFd: number,
  /** The checks before each file (walk-replica.ts `guardsOf`). */
  checks: { guards: string; path: string },
  files: readonly Entry[],
  modes: boolean,
  owners: boolean,
  building?: { gid: number },
): BatchJob {
  const nums = new Float64Array(files.length * FIELDS);
  files.forEach((f, i) => {
    const o = i * FIELDS;
    nums[o] = f.size;
    nums[o + 1] = f.mode;
    nums[o + 2] = f.uid ?? -1;
    nums[o + 3] = f.gid ?? -1;
    nums[o + 4] = f.atimeMs;
    nums[o + 5] = f.mtimeMs;
  });
  const names = files.map((f) => f.name).join('\0');
  const { guards, path } = checks;
  return { seq, slot, srcFd, dstFd, guards, path, names, nums, modes, owners, direct: building !== undefined, gid: building?.gid ?? -1 };
}

function entryAt(job: BatchJob, names: string[], i: number): Entry {
  const o = i * FIELDS;
  const uid = job.nums[o + 2] ?? -1;
  const gid = job.nums[o + 3] ?? -1;
  return {
    name: names[i] as string,
    type: 'file',
    size: job.nums[o] ?? 0,
    mode: (job.nums[o + 1] ?? 0) | 0,
    uid: uid < 0 ? undefined : uid,
    gid: gid < 0 ? undefined : gid,
    atimeMs: job.nums[o + 4] ?? 0,
    mtimeMs: job.nums[o + 5] ?? 0,
  };
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The helper's copy of one file: true when installed; false (nothing left behind) for the pass to do it. */
function copyOne(job: BatchJob, entry: Entry): boolean {
  const src = `/proc/self/fd/${job.srcFd}/${entry.name}`;
  const dir = `/proc/self/fd/${job.dstFd}`;
  if (job.guards !== '' && !guardsHold(job)) return false; // moved out of its parent: the pass reports it
  const ends: CopyEnds = {
    srcPath: src,
    openSource: () => openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK),
    createTemp: () =>
      createTarget(
        job.direct,
        entry.name,
        (n) => openSync(`${dir}/${n}`, CREATE, 0o600),
        () => {
          const tmp = tempName();
          return { tmp, fd: openSync(`${dir}/${tmp}`, CREATE, 0o600) };
        },
      ),
    discard: (tmp) => quietUnlink(`${dir}/${tmp}`),
  };
  let tmp: string;
  try {
    // Setuid/setgid files never come here (the pass keeps their debug line), so nothing is dropped silently.
    tmp = copyWith(ends, entry, { modes: job.modes, owners: job.owners, ...(job.direct ? { building: { gid: job.gid } } : {}) });
  } catch {
    return false;
  }
  if (tmp === entry.name) return true; // written under its own name in a folder being built
  try {
    renameSync(`${dir}/${tmp}`, `${dir}/${entry.name}`);
    return true;
  } catch {
    quietUnlink(`${dir}/${tmp}`);
    return false;
  }
}

function quietUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created, or gone
  }
}

/**
 * Take items of the job from the shared counter until none is left (both threads). `mine(i)` copies item i on
 * this thread instead (the pass's own way); without it the helper's `copyOne`. Returns the items this thread took.
 */
export function workOn(shared: Shared, job: BatchJob, count: number, mine?: (i: number) => void): number[] {
  const names = mine ? [] : job.names.split('\0');
  const seq = BigInt(job.seq);
  const taken: number[] = [];
  for (let item = claimNext(shared, seq, count); item >= 0; item = claimNext(shared, seq, count)) {
    taken.push(item);
    let state = LEFT;
    try {
      if (mine) {
        mine(item);
        state = DONE;
      } else if (copyOne(job, entryAt(job, names, item))) {
        state = DONE;
      }
    } catch {
      state = LEFT;
    }
    Atomics.store(shared.ints, STATE + item, state);
    finishItem(shared);
  }
  return taken;
}

/** A copy helper: the thread (helper-thread.ts) and the shared state its batches use. */
class CopyHelper extends HelperThread {
  readonly slots: Shared[];
  seq = 0;
  /** Slots of batches under way. */
  private readonly busy = new Set<number>();

  /**
   * Tests (FOLDER_SYNC_TEST_COPY_LATE=1): the helper gets each batch only when the pass comes back for it, and
   * copies all of it then, so every batch is still under way while the walk goes on (copy-pipeline.test.ts).
   */
  readonly late = process.env['FOLDER_SYNC_TEST_COPY_LATE'] === '1';

  constructor(slots = sharedOf()) {
    super(new URL('./copy-worker.js', import.meta.url), (slots[0] as Shared).buffer);
    this.slots = slots;
  }

  /** A free slot, taken (the walk never has more than SLOTS batches under way). */
  take(): number {
    for (let i = 0; i < this.slots.length; i++) {
      if (!this.busy.has(i)) {
        this.busy.add(i);
        return i;
      }
    }
    throw new Error('internal: no free copy batch slot');
  }

  give(slot: number): void {
    this.busy.delete(slot);
    if (this.busy.size === 0) this.release();
  }
}

let helper: CopyHelper | undefined;
let starts = 0;

/** How many helper threads this process has started (a pass says so in a debug line). */
export const helperStarts = (): number => starts;

/** The helper, started on first use: Linux handles, two or more cores, the compiled engine, the CLI only. */
export function copyHelper(allowed: boolean): CopyHelper | undefined {
  if (!allowed || process.env['FOLDER_SYNC_COPY_THREAD'] === '0') return undefined;
  if (!helper?.alive) {
    // Asked once a thread is needed, not for every batch (availableParallelism is a system call).
    if (!import.meta.url.endsWith('.js') || availableParallelism() < 2) return undefined;
    helper = new CopyHelper();
    starts++;
  }
  return helper;
}

/** A batch handed to the helper: its slot and number; `finishBatch` completes it. */
export interface StartedBatch {
  slot: number;
  seq: number;
  count: number;
  posted: boolean;
  /** The job not yet posted (FOLDER_SYNC_TEST_COPY_LATE). */
  job?: BatchJob;
}

/** Hand a run of new files to the helper, which starts on them at once; the pass finishes the batch later. */
export function startBatch(
  h: CopyHelper,
  files: readonly Entry[],
  fds: { src: number; dst: number; guards: string; path: string },
  /** `building`: the folder is being built (walk-build.ts), with that group. */
  opts: { modes: boolean; owners: boolean; building?: { gid: number } | undefined },
): StartedBatch {
  const slot = h.take();
  const shared = h.slots[slot] as Shared;
  const seq = ++h.seq;
  openBatch(shared, seq, files.length, TODO);
  const job = encodeJob(seq, slot, fds.src, fds.dst, fds, files, opts.modes, opts.owners, opts.building);
  if (h.late) return { slot, seq, count: files.length, posted: false, job };
  return { slot, seq, count: files.length, posted: h.post(job) };
}

/** Copy files of a started batch on this thread (`mine(i)`: the pass's own way), from the counter the helper takes from too; returns the ones taken. */
export function helpBatch(h: CopyHelper, b: StartedBatch, mine: (i: number) => void): number[] {
  if (h.late) return [];
  return workOn(h.slots[b.slot] as Shared, { seq: b.seq } as BatchJob, b.count, mine);
}

/**
 * Wait until a started batch is finished (every file taken, by either thread, is done): each file's state, true
 * when installed, false when left to the pass (or taken by a helper that died, or by no one).
 */
export async function finishBatch(h: CopyHelper, b: StartedBatch): Promise<boolean[]> {
  const shared = h.slots[b.slot] as Shared;
  try {
    if (b.job) b.posted = h.post(b.job);
    if (b.posted) await h.finished(shared, b.count);
    return Array.from({ length: b.count }, (_, i) => Atomics.load(shared.ints, STATE + i) === DONE);
  } finally {
    h.give(b.slot);
  }
}

/** Is a started batch finished already (every file done by someone)? */
export const batchDone = (h: CopyHelper, b: StartedBatch): boolean => finishedItems(h.slots[b.slot] as Shared) >= b.count;

/** The number of files in a job. */
export const jobCount = (job: BatchJob): number => job.nums.length / FIELDS;
