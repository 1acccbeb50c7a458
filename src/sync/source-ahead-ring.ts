/**
 * The source read-ahead's readers (issue 16, session 15): READERS threads that open and read, one file at a time
 * each, the names the read-ahead's walk (source-ahead-read.ts) queues in a ring of shared memory. Before, every
 * file was an open, a read and a close queued on libuv's pool, three callbacks and their promises on the walk's
 * thread: on the bench VM's cold copy of 100,000 small files that thread and the pool's wake-ups took about an
 * eighth of both cores' time. Measured reading that tree alone, cold: the pool 4.3-4.6 s wall and 5.3-5.5 s of
 * CPU; four threads reading synchronously 3.9 s and 3.9-4.0 s; eight 3.2-3.4 s (docs/benchmark.md, session 15).
 *
 * The rules stay the reader's: the walk queues only names its listing shows as regular files, each as
 * `/proc/self/fd/<folder>/<name>` through a folder it opened (only that last name is resolved), and keeps that
 * folder open until the name is done; a reader opens it with O_NOFOLLOW | O_NONBLOCK, reads its first READ_BYTES
 * into a scratch buffer nobody looks at, and closes it. Any error skips the file. Nothing here writes a file.
 *
 * The ring: HEAD (names queued so far, written by the walk), CLAIM (names taken by a reader), DONE[slot] (the
 * number of the name a slot last finished, plus one), CANCEL (names below it are skipped, not read: the pass left
 * the subtree). Counters are 32-bit and wrap; they are only ever compared by difference.
 */
import { Worker } from 'node:worker_threads';
import { waitAsync } from './wait-async.js';

/**
 * Threads reading at once. Four (as many as libuv's default pool) gained nothing on the whole cold copy; eight
 * did (7.77 -> 6.90 s with the build change, docs/benchmark.md, session 15), at ~7 MB of memory each.
 */
export const READERS = 8;
/** Names queued at most (a power of two). */
export const SLOTS = 64;
/** Bytes of a slot's path: `/proc/self/fd/<fd>/` and a name of at most 255 bytes. */
const PATH_BYTES = 320;

const HEAD = 0;
const CLAIM = 1;
const CANCEL = 2;
const STOP = 3;
const IDLE = 4;
const PROGRESS = 5;
const READ_OK = 6;
const CTRL_INTS = 8;

/** What the walk hands the ring: a path through an opened folder, and what to call once it has been opened. */
export interface RingName {
  path: string;
  opened(): void;
}

interface Shared {
  ctrl: Int32Array;
  done: Int32Array;
  lens: Int32Array;
  paths: Uint8Array;
  /** Where a read is counted for the pass's debug line (another thread's state), and its index there. */
  count?: { state: Int32Array; index: number };
  readBytes: number;
  pathBytes: number;
}

/**
 * A reader thread's body. Run from its source text (`new Worker(..., { eval: true })`), so it uses nothing from
 * outside itself: the same code runs in the CLI and under the test runner.
 */
function readerMain(
  shared: Shared,
  names: { HEAD: number; CLAIM: number; CANCEL: number; STOP: number; IDLE: number; PROGRESS: number; READ_OK: number },
  v8Flags: string | undefined,
): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- an eval'd worker is CommonJS
  if (v8Flags) (require('node:v8') as typeof import('node:v8')).setFlagsFromString(v8Flags); // heap.ts: applyHeapFlags
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- an eval'd worker is CommonJS
  const fs = require('node:fs') as typeof import('node:fs');
  const { ctrl, done, lens, paths, count, readBytes, pathBytes } = shared;
  const slots = done.length;
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  const buf = Buffer.allocUnsafe(readBytes);
  for (;;) {
    if (Atomics.load(ctrl, names.STOP) !== 0) return;
    const claim = Atomics.load(ctrl, names.CLAIM);
    const head = Atomics.load(ctrl, names.HEAD);
    if (((head - claim) | 0) <= 0) {
      Atomics.add(ctrl, names.IDLE, 1);
      Atomics.wait(ctrl, names.HEAD, head, 200);
      Atomics.sub(ctrl, names.IDLE, 1);
      continue;
    }
    if (Atomics.compareExchange(ctrl, names.CLAIM, claim, (claim + 1) | 0) !== claim) continue;
    const slot = claim & (slots - 1);
    if (((claim - Atomics.load(ctrl, names.CANCEL)) | 0) >= 0) {
      try {
        const fd = fs.openSync(Buffer.from(paths.buffer, paths.byteOffset + slot * pathBytes, lens[slot]), flags);
        try {
          fs.readSync(fd, buf, 0, buf.length, 0);
          Atomics.add(ctrl, names.READ_OK, 1);
          if (count) Atomics.add(count.state, count.index, 1);
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        // gone or unreadable: the copy will meet it (and report it) itself
      }
    }
    Atomics.store(done, slot, (claim + 1) | 0);
    Atomics.add(ctrl, names.PROGRESS, 1);
    Atomics.notify(ctrl, names.PROGRESS);
  }
}

/** The ring and its reader threads, kept for the process (one walk uses it at a time). */
export class ReadRing {
  private head = 0;
  private low = 0;
  private readonly waiting: (RingName | undefined)[] = new Array<RingName | undefined>(SLOTS);
  private readonly encoder = new TextEncoder();
  /** Set once a reader has ended: every reader is stopped, then every queued name is handed back. */
  private ending: Promise<void> | undefined;

  private constructor(
    private readonly shared: Shared,
    private readonly workers: Worker[],
  ) {}

  /** Reader threads: files open at once at most. */
  get readers(): number {
    return this.workers.length;
  }

  /** Start the readers; undefined when a thread cannot be started (the walk then reads through libuv's pool). */
  static start(opts: {
    /** Bytes read of each file (source-ahead-read.ts READ_BYTES). */
    readBytes: number;
    /** Where each read is counted too (the pass's debug line). */
    count?: { state: Int32Array; index: number };
    /** heap.ts `heapFlagsForWorkers`. */
    v8Flags?: string | undefined;
    readers?: number;
  }): ReadRing | undefined {
    const { readBytes, count, v8Flags, readers = READERS } = opts;
    if (!Number.isInteger(readers) || readers < 1) return undefined; // a ring no one reads would never hand names back
    const shared: Shared = {
      ctrl: new Int32Array(new SharedArrayBuffer(CTRL_INTS * 4)),
      done: new Int32Array(new SharedArrayBuffer(SLOTS * 4)),
      lens: new Int32Array(new SharedArrayBuffer(SLOTS * 4)),
      paths: new Uint8Array(new SharedArrayBuffer(SLOTS * PATH_BYTES)),
      ...(count ? { count } : {}),
      readBytes,
      pathBytes: PATH_BYTES,
    };
    const names = { HEAD, CLAIM, CANCEL, STOP, IDLE, PROGRESS, READ_OK };
    const source = `const d = require('node:worker_threads').workerData; (${readerMain.toString()})(d.shared, d.names, d.v8Flags)`;
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < readers; i++) {
        const worker = new Worker(source, {
          eval: true,
          workerData: { shared, names, v8Flags },
          resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
        });
        worker.unref(); // never keeps the process alive
        workers.push(worker);
      }
    } catch {
      Atomics.store(shared.ctrl, STOP, 1);
      return undefined;
    }
    const ring = new ReadRing(shared, workers);
    // A reader that ends (it never does on its own) leaves its slot unfinished: the ring is then stopped for good.
    for (const worker of workers) {
      worker.on('error', () => ring.broke());
      worker.on('exit', () => ring.broke());
    }
    return ring;
  }

  /** False once a reader has ended: the rest of that walk is not read ahead; the next starts a new ring. */
  get working(): boolean {
    return this.ending === undefined;
  }

  /** Files read so far (all walks). */
  get read(): number {
    return Atomics.load(this.shared.ctrl, READ_OK);
  }

  /** Queue `name` (waits while the ring is full). False when its path does not fit a slot (not read ahead). */
  async push(name: RingName): Promise<boolean> {
    while (this.working && this.reclaim() >= SLOTS) await this.progress();
    if (!this.working) {
      name.opened();
      return false;
    }
    const slot = this.head & (SLOTS - 1);
    const { paths, lens, ctrl } = this.shared;
    const { read, written } = this.encoder.encodeInto(name.path, paths.subarray(slot * PATH_BYTES, (slot + 1) * PATH_BYTES));
    if (read !== name.path.length) {
      name.opened();
      return false;
    }
    lens[slot] = written;
    this.waiting[slot] = name;
    this.head = (this.head + 1) | 0;
    Atomics.store(ctrl, HEAD, this.head);
    if (Atomics.load(ctrl, IDLE) > 0) Atomics.notify(ctrl, HEAD, 1);
    return true;
  }

  /** Wait until every queued name is done; with `cancel`, those not yet taken are skipped (not read). */
  async settle(cancel: boolean): Promise<void> {
    if (cancel) Atomics.store(this.shared.ctrl, CANCEL, this.head);
    while (this.working && this.reclaim() > 0) await this.progress();
    await this.ending;
  }

  /** Stop the readers for good (tests; the process's end stops them too). */
  stop(): Promise<void> {
    return this.broke();
  }

  /** A reader ended: stop them all, and once none can use a queued name any more, hand every one back. */
  private broke(): Promise<void> {
    this.ending ??= (async () => {
      Atomics.store(this.shared.ctrl, STOP, 1);
      Atomics.notify(this.shared.ctrl, HEAD);
      await Promise.all(this.workers.map((w) => w.terminate().catch(() => undefined)));
      for (; this.low !== this.head; this.low = (this.low + 1) | 0) {
        const slot = this.low & (SLOTS - 1);
        const name = this.waiting[slot];
        this.waiting[slot] = undefined;
        name?.opened();
      }
    })();
    return this.ending;
  }

  /** Hand back the names done, in order; returns how many are still queued. */
  private reclaim(): number {
    const { done } = this.shared;
    while (this.low !== this.head) {
      const slot = this.low & (SLOTS - 1);
      if (Atomics.load(done, slot) !== ((this.low + 1) | 0)) break;
      const name = this.waiting[slot];
      this.waiting[slot] = undefined;
      this.low = (this.low + 1) | 0;
      name?.opened();
    }
    return (this.head - this.low) | 0;
  }

  private async progress(): Promise<void> {
    const seen = Atomics.load(this.shared.ctrl, PROGRESS);
    if (this.reclaim() === 0) return;
    const wait = waitAsync(this.shared.ctrl, PROGRESS, seen, 50);
    if (wait.async) await wait.value;
  }
}
