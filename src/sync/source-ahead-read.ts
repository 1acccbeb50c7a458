/**
 * Reading a new subtree's source files ahead of the pass (issue 16, session 13; the thread and the pass's side:
 * source-ahead.ts). Only reads: each file's first READ_BYTES go into a scratch buffer nobody looks at, so that
 * the copy's own reads find them in the page cache. Nothing here writes, and nothing it meets is reported.
 *
 * Why: a cold copy of many small files waits on one read at a time (the copy's reads are synchronous, one per
 * file per thread). On the bench VM, reading the 100,000 small files one at a time takes ~10.4 s, eight at a
 * time ~3.7 s (docs/benchmark.md, session 13). Here up to LANES opens and reads are queued at once on libuv's
 * thread pool.
 *
 * How, and what it will not do:
 * - The tree is walked through opened folders only: the subtree's top is a descriptor the pass opened (and
 *   checked); each subfolder is opened through its parent's descriptor (`/proc/self/fd/<fd>/<name>`, only that
 *   last name resolved, O_NOFOLLOW | O_DIRECTORY). No whole path is resolved, so a folder swapped for a link
 *   meanwhile leads nowhere outside the tree.
 * - Only names the listing shows as regular files are opened (a link, FIFO, socket or device never is), with
 *   O_NOFOLLOW | O_NONBLOCK, as the copy itself opens them: one swapped for a link is not followed, a FIFO
 *   swapped in is not waited on.
 * - It stays at most `maxAhead` files ahead of the pass: the pass counts the copies it starts
 *   (`gate.consumed`), and the walk waits for it. A large tree or folder is never read far ahead of its copy (the
 *   page cache would drop what was read before the copy came to it).
 * - Only on the subtree top's device (a mount inside the tree is not read ahead), and not a folder of more than
 *   MAX_LISTED entries (its listing alone would take the thread's memory).
 * - The same order as the pass (names sorted as the planner sorts them, each folder where its name falls), so
 *   what is read next is what the pass copies next.
 * - Any error skips that file or folder. `gate.stopped()` ends it (the pass left the subtree, or ended).
 */
import { close, constants, fstat, open, read, readdir, type Dirent, type Stats } from 'node:fs';
import { compareNames } from './entry.js';
import type { ReadRing } from './source-ahead-ring.js';

/** Opens and reads queued at once. libuv's pool runs four; more keep it busy between their callbacks. */
export const LANES = 64;
/** How far ahead of the pass, in files. */
export const MAX_AHEAD = 4096;
/** Bytes read of each file (a small file whole; of a larger one its start, the kernel's own read-ahead follows). */
export const READ_BYTES = 128 << 10;

/** Where the reader learns how far the pass has come, and whether to stop. */
export interface AheadGate {
  /** Copies the pass has started so far in this subtree. */
  consumed(): number;
  /** Resolves once `consumed` may have grown or the reader should stop (or after a short while). */
  waitForPass(seen: number): Promise<void>;
  stopped(): boolean;
  /** Told after each file read (`name` through its folder's handle; a count for the pass's debug line). */
  onRead?(name: string): void;
}

export interface AheadLimits {
  lanes?: number;
  maxAhead?: number;
  /**
   * Descriptors the reader may hold at once (default MAX_OPEN): half for files being read (the lanes), half for
   * the folders it is inside and the one it lists; a subfolder past that is not read ahead. The pass's own opens must not meet EMFILE
   * under a low descriptor limit (source-ahead.ts passes an eighth of it, as free-later.ts holds).
   */
  maxOpen?: number;
  /** A folder of more entries is not read ahead (default MAX_LISTED). */
  maxListed?: number;
  /** Paths from the top (`a/b/name`) never opened: mount points (source-ahead.ts `mountsBelow`). */
  skip?: readonly string[];
  /**
   * Reader threads to read the files (source-ahead-ring.ts), if they fit the files' half of `maxOpen`; without
   * them, `lanes` reads on libuv's pool.
   */
  ring?: ReadRing;
}

/** Descriptors held at most by default. */
export const MAX_OPEN = 128;
/** A folder with more entries than this is not read ahead. */
export const MAX_LISTED = 20_000;
/** A folder whose directory is larger than this (fstat size) is not even listed. */
export const MAX_FOLDER_BYTES = 4 << 20;

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;
const call = <T>(f: (cb: Callback<T>) => void): Promise<T> => new Promise((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v))));

const FOLDER_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** An opened folder, closed once the walk has left it and every name handed out from it has been opened. */
class Folder {
  private handedOut = 0;
  private left = false;

  /** `owned`: closed here (the top folder is the caller's). */
  constructor(
    readonly fd: number,
    private readonly owned: boolean,
    private readonly onClose: () => void = () => {},
  ) {}

  name(name: string): Named {
    this.handedOut++;
    return { path: `/proc/self/fd/${this.fd}/${name}`, opened: () => this.opened() };
  }

  leave(): void {
    this.left = true;
    this.closeIfDone();
  }

  private opened(): void {
    this.handedOut--;
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (!this.owned || !this.left || this.handedOut !== 0) return;
    close(this.fd, this.onClose);
  }
}

/** A file to read: its name through its folder's handle; `opened()` once it has been opened (or failed to). */
interface Named {
  path: string;
  opened(): void;
}

/** The folders the reader has open, against their share of its descriptors. */
interface FolderBudget {
  open: number;
  max: number;
}

/**
 * A folder's names and types, sorted, or undefined when it cannot be listed or is too large to list: past
 * MAX_FOLDER_BYTES of directory (its fstat size: its listing alone would take much of the thread's memory; a
 * folder of 140,000 names of 247 characters took all of it) or MAX_LISTED entries. One readdir on the pool
 * (listing entry by entry, with opendir, cost ~0.5 s more CPU on the 100,000-file copy).
 */
async function listFolder(base: string, size: number, max: number): Promise<Dirent[] | undefined> {
  if (size > MAX_FOLDER_BYTES) return undefined;
  try {
    const listed = await call<Dirent[]>((cb) => readdir(base, { withFileTypes: true }, cb));
    return listed.length > max ? undefined : listed.sort((a, b) => compareNames(a.name, b.name));
  } catch {
    return undefined;
  }
}

/** Where the reader walks: its share of descriptors for folders, and the one device it stays on. */
interface Walk {
  gate: AheadGate;
  budget: FolderBudget;
  /** The subtree top's device: a folder on another (a mount inside the tree) is not read ahead. */
  dev: number;
  maxListed: number;
  /** Mount points below the top (paths from it), if any: a file mounted over is never opened. */
  skip: ReadonlySet<string> | undefined;
}

/** The regular files under `folder` (at `rel` from the top), in the pass's order, named through their folder's handle. */
async function* filesUnder(folder: Folder, size: number, walk: Walk, rel = ''): AsyncGenerator<Named> {
  const { gate, budget } = walk;
  const base = `/proc/self/fd/${folder.fd}`;
  const listed = await listFolder(base, size, walk.maxListed);
  for (const entry of listed ?? []) {
    if (gate.stopped()) return;
    // A file or folder something is mounted on: its listing shows what is beneath, and opening it could wait on
    // whatever serves the mount (a FUSE daemon that never answers would hold this thread, and the process's exit).
    if (walk.skip?.has(rel + entry.name)) continue;
    if (entry.isFile()) {
      yield folder.name(entry.name);
    } else if (entry.isDirectory()) {
      if (budget.open >= budget.max) continue; // too deep for its share of descriptors: not read ahead
      let fd: number;
      try {
        fd = await call<number>((cb) => open(`${base}/${entry.name}`, FOLDER_FLAGS, cb));
      } catch {
        continue; // gone, swapped for a link, unreadable: the pass will say so if it matters
      }
      budget.open++;
      const child = new Folder(fd, true, () => budget.open--);
      try {
        // Only on the top's device: a mount inside the tree (a network or FUSE one, a tmpfs) is not read ahead.
        const own = await call<Stats>((cb) => fstat(fd, cb)).catch(() => undefined);
        if (own?.dev === walk.dev) yield* filesUnder(child, own.size, walk, walk.skip && `${rel}${entry.name}/`);
      } finally {
        child.leave();
      }
    }
  }
}

/**
 * Read ahead the regular files under the opened folder `dirFd` (not closed here; only on its device), at most `maxAhead` files
 * ahead of `gate.consumed()`. Resolves with the number of files read once done or stopped; never rejects.
 */
export async function readTreeAhead(dirFd: number, gate: AheadGate, limits: AheadLimits = {}): Promise<number> {
  const maxOpen = limits.maxOpen ?? MAX_OPEN;
  const lanes = Math.max(1, Math.min(limits.lanes ?? LANES, Math.floor(maxOpen / 2)));
  const maxAhead = limits.maxAhead ?? MAX_AHEAD;
  // The folders' half less one: listing a folder holds one more descriptor while it is read.
  const budget: FolderBudget = { open: 0, max: Math.max(1, Math.ceil(maxOpen / 2) - 1) };
  const top = await call<Stats>((cb) => fstat(dirFd, cb)).catch(() => undefined);
  if (!top) return 0;
  const skip = limits.skip?.length ? new Set(limits.skip) : undefined;
  const files = filesUnder(new Folder(dirFd, false), top.size, { gate, budget, dev: top.dev, maxListed: limits.maxListed ?? MAX_LISTED, skip });
  // The readers hold a file open each: within the files' half of the descriptors, as the lanes are.
  if (limits.ring?.working && limits.ring.readers <= Math.floor(maxOpen / 2)) return readThrough(limits.ring, files, gate, maxAhead, budget);
  let handed = 0;
  let done = 0;
  // Lanes waiting for the pass share one wait (not one timer each).
  let waiting: Promise<void> | undefined;
  const waitFor = (seen: number): Promise<void> => (waiting ??= gate.waitForPass(seen).finally(() => (waiting = undefined)));
  // One lane takes the next name at a time (an async generator queues concurrent calls in order). A lane
  // reserves its place before it waits for the name, so no more than maxAhead are ever handed out.
  const next = async (): Promise<Named | undefined> => {
    for (;;) {
      if (gate.stopped()) return undefined;
      const seen = gate.consumed();
      if (handed - seen < maxAhead) break;
      await waitFor(seen);
    }
    handed++;
    const step = await files.next();
    return step.done ? undefined : step.value;
  };
  // One scratch buffer for every lane: what is read is never looked at, only brought into the page cache.
  const buf = Buffer.allocUnsafe(READ_BYTES);
  const lane = async (): Promise<void> => {
    for (let named = await next(); named !== undefined; named = await next()) {
      const name = named.path;
      try {
        const opening = call<number>((cb) => open(name, FILE_FLAGS, cb));
        opening.then(named.opened, named.opened);
        const fd = await opening;
        try {
          await call<number>((cb) => read(fd, buf, 0, buf.length, 0, cb));
          done++;
          gate.onRead?.(name);
        } finally {
          await call<void>((cb) => close(fd, (e) => cb(e, undefined))).catch(() => undefined); // closed before the lane opens its next
        }
      } catch {
        // gone or unreadable: the copy will meet it (and report it) itself
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
  } catch {
    // a lane never throws; kept so that nothing here can fail the pass
  }
  await leave(files, budget);
  return done;
}

/** The walk is over: every folder left is being closed; resolves once they are (a bounded wait: each close is queued). */
async function leave(files: AsyncGenerator<Named>, budget: FolderBudget): Promise<void> {
  await files.return(undefined).catch(() => undefined);
  for (let turn = 0; budget.open > 0 && turn < 10_000; turn++) await new Promise((r) => setImmediate(r));
}

/** The walk hands each name to the reader threads' ring, at most `maxAhead` ahead of the pass. */
async function readThrough(ring: ReadRing, files: AsyncGenerator<Named>, gate: AheadGate, maxAhead: number, budget: FolderBudget): Promise<number> {
  const before = ring.read;
  let handed = 0;
  try {
    while (!gate.stopped()) {
      const seen = gate.consumed();
      if (handed - seen >= maxAhead) {
        await gate.waitForPass(seen);
        continue;
      }
      const step = await files.next();
      if (step.done) break;
      handed++;
      await ring.push(step.value);
    }
  } finally {
    await ring.settle(gate.stopped()); // the pass left the subtree: what is not taken yet is not read
    await leave(files, budget);
  }
  return (ring.read - before) | 0;
}
