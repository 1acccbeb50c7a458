/**
 * The look-ahead thread (issue 16, "split the tree between workers"): while the pass walks the tree front to
 * back, a second thread walks it back to front and *only looks*: it lists both sides of each folder, plans it
 * with the same pure planner the pass uses (plan.ts), and reports every subtree whose plan is empty throughout
 * (nothing to copy, update, remove or report, no folder metadata to fix). When the pass reaches such a subtree
 * it adds its entries to the checked count and does not walk it again; everything else it walks as before.
 *
 * Why it is safe:
 * - The thread never writes and never opens a file: `lstat`, `readdir`, `readlink` by whole path. What it
 *   says only ever makes the pass *skip* a subtree it would have left unchanged anyway; any doubt (a listing
 *   problem, a folder swapped while listed, another device below the replica, an entry it cannot judge) makes
 *   the subtree "not known clean", and the pass walks it through its opened folders as always.
 * - Each folder is checked against the identity its parent's listing gave it before and after it is listed,
 *   and the roots against the folders the pass opened. A path it resolves can only be redirected through a
 *   folder someone can write; everything below that folder is theirs to change anyway.
 * - A subtree found clean at one moment and changed before the pass reaches it is a change made during the
 *   pass: like any pass (and rsync's file list), it is taken up by the next pass.
 *
 * With --checksum it compares the contents of same-size, same-time files too (compare.ts, the pass's own check),
 * except in the folders the pass has already entered (it compares those itself).
 *
 * With exclude rules it filters each folder's listings as the pass does (the same rules, rebuilt in the thread;
 * ignore files read the same way); a folder where anything is left out is not reported, so the pass still
 * walks it and logs what it leaves out.
 *
 * Where it is used: every pass over an existing replica, on the replica's own device
 * (a folder below the replica on another file system is always walked), from the compiled CLI on two or more
 * cores. `FOLDER_SYNC_LOOKAHEAD=0` turns it off.
 */
import { constants, lstatSync, openSync, type BigIntStats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { applyHeapFlags, heapFlagsForWorkers } from '../heap.js';
import type { ReplicaCaps } from './capabilities.js';
import { fsReader, sameContents, type FileReader } from './compare.js';
import { compareNames, listIn, type Entry, type Listing } from './entry.js';
import type { FilterSpec } from './filter.js';
import { afterCompare, metaDiff, planDirOn, type PlanOptions } from './plan.js';
import { PassFilter, type DirFilter } from './pass-filter.js';
import { filterListings, WalkFilter } from './walk-filter.js';

/** What the thread is asked to look at: the pass's roots (real paths, and the identities the pass opened). */
export interface AheadJob {
  source: string;
  replica: string;
  sourceId: { dev: bigint; ino: bigint };
  replicaId: { dev: bigint; ino: bigint };
  caps: ReplicaCaps;
  srcLocalTime: boolean;
  owners: boolean;
  /** --checksum: files of the same size and time are compared by contents too (compare.ts), as the pass would. */
  checksum: boolean;
  /** Exclude rules: each folder's listings filtered as the pass filters them (walk-filter.ts). */
  filter?: { spec: FilterSpec; deleteExcluded: boolean };
}

/** The pass's filter, rebuilt in the thread from the same rules; undefined when the pass has none. */
interface AheadFilter {
  walk: WalkFilter;
  root: DirFilter;
}

function filterOf(job: AheadJob, rootEntries: () => readonly Entry[]): AheadFilter | undefined {
  if (!job.filter) return undefined;
  const pass = PassFilter.load(job.filter.spec, job.source);
  if (pass.inactive) return undefined;
  const walk = new WalkFilter(pass, job.filter.deleteExcluded);
  return { walk, root: walk.root(job.source, rootEntries()) };
}

/** Where the thread's findings go, and where it learns how far the pass has come. */
export interface AheadSink {
  /** The subtree at `rel` (source names, '/'-joined) is mirrored already; it holds `checked` source entries. */
  clean(rel: string, checked: number): void;
  /** Is anything in the folder at `rel` still ahead of the pass? False once the pass has left it behind. */
  ahead(rel: readonly string[]): boolean;
  /**
   * Has the pass entered the folder at `rel` (it is where the pass is, or holds it)? Then the pass compares
   * that folder's files itself (first thing in a folder), and only its subfolders may still be ahead.
   */
  entered(rel: readonly string[]): boolean;
}

const STOP = Symbol('stop');
type Found = { clean: boolean; checked: number } | typeof STOP;

/**
 * Walk the tree back to front, reporting each subtree that needs nothing (see the module's comment). `list`
 * lists a folder by its whole path (tests pass one that changes the tree while it is listed).
 */
export function verifyTree(job: AheadJob, sink: AheadSink, list: (path: string) => Listing = listIn): void {
  const opts: PlanOptions = { checksum: job.checksum, caps: job.caps, srcLocalTime: job.srcLocalTime, owners: job.owners };
  const dev = job.replicaId.dev;
  let filter: AheadFilter | undefined;
  try {
    filter = filterOf(job, () => list(job.source).entries);
  } catch {
    return; // the pass refuses or reports the same (an unreadable ignore file at the top, rules that changed)
  }
  /** `inFilter`: the rules of the folder holding this one, and this one's name there (its own read from its listing). */
  const verify = (src: string, dst: string, rel: string[], srcIno: bigint, dstIno: bigint, inFilter?: [DirFilter, string]): Found => {
    const srcList = listChecked(list, src, srcIno);
    const dstList = srcList && listChecked(list, dst, dstIno, dev);
    if (!srcList || !dstList || srcList.issues.length > 0 || dstList.issues.length > 0) return { clean: false, checked: 0 };
    let srcEntries = srcList.entries;
    let dstEntries = dstList.entries;
    let clean = true;
    let dirFilter: DirFilter | undefined;
    if (filter) {
      try {
        dirFilter = inFilter ? filter.walk.child(inFilter[0], inFilter[1], src, srcEntries) : filter.root;
      } catch {
        return { clean: false, checked: 0 }; // an ignore file it cannot read: the pass fails this folder
      }
      const out = filterListings(dirFilter, srcEntries, dstEntries, {
        deleteExcluded: job.filter?.deleteExcluded ?? false,
        srcMarked: (name) => filter!.walk.pass.hasMarker(join(src, name)),
        dstMarked: (name) => filter!.walk.pass.hasMarker(join(dst, name)),
      });
      // A folder with anything left out is walked by the pass, which says so in its debug lines.
      if (out.excluded.length > 0 || out.protected.length > 0) clean = false;
      ({ src: srcEntries, dst: dstEntries } = out);
    }
    const steps = planDirOn(srcEntries, dstEntries, opts);
    let checked = srcEntries.length;
    // Back to front: the pass walks front to back, so what is found here is what it reaches last.
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i]!;
      if (step.op === 'compare' && clean) {
        // --checksum: a file of the same size and time needs nothing when its contents and metadata match.
        clean = !sink.entered(rel) && sameFile(join(src, step.src.name), join(dst, step.dst.name), step.src, step.dst, opts);
        continue;
      }
      if (step.op !== 'descend') {
        clean = false;
        continue;
      }
      // The subfolder's own mode, times and owner are this folder's business (set after its contents).
      if (metaDiff(step.src, step.dst, opts).length > 0) clean = false;
      const childRel = [...rel, step.src.name];
      if (step.src.ino === undefined || step.dst.ino === undefined || !sink.ahead(childRel)) return STOP;
      const inner: [DirFilter, string] | undefined = dirFilter && [dirFilter, step.src.name];
      const found = verify(join(src, step.src.name), join(dst, step.dst.name), childRel, step.src.ino, step.dst.ino, inner);
      if (found === STOP) return STOP;
      clean &&= found.clean;
      checked += found.checked;
    }
    if (clean && rel.length > 0) sink.clean(rel.join('/'), checked);
    return { clean, checked };
  };
  if (!sameFolder(lstatOrUndefined(job.source), job.sourceId.ino, job.sourceId.dev)) return;
  verify(job.source, job.replica, [], job.sourceId.ino, job.replicaId.ino);
}

/** compare.ts's reader, opening without waiting: a FIFO swapped in for a listed file reads as different. */
const nonBlocking: FileReader = {
  ...fsReader,
  open: (path) => openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK),
};

/** Same bytes (compare.ts, by hash as the pass compares) and nothing of the metadata to fix. Any error: no. */
function sameFile(srcPath: string, dstPath: string, src: Entry, dst: Entry, opts: PlanOptions): boolean {
  try {
    return sameContents(srcPath, dstPath, src.size, nonBlocking) && afterCompare(src, dst, true, opts) === undefined;
  } catch {
    return false;
  }
}

function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

function sameFolder(st: BigIntStats | undefined, ino: bigint, dev?: bigint): boolean {
  return st !== undefined && st.isDirectory() && st.ino === ino && (dev === undefined || st.dev === dev);
}

/** A folder's listing by whole path, when it is the folder its parent listed before and after (else undefined). */
function listChecked(list: (path: string) => Listing, path: string, ino: bigint, dev?: bigint): Listing | undefined {
  if (!sameFolder(lstatOrUndefined(path), ino, dev)) return undefined;
  let listing: Listing;
  try {
    listing = list(path);
  } catch {
    return undefined;
  }
  return sameFolder(lstatOrUndefined(path), ino, dev) ? listing : undefined;
}

/**
 * Is there anything in folder `a` the pass has not reached yet, when the pass has just entered folder `b`? The
 * pass walks in pre-order: yes when `a` comes after `b`, and when `a` is `b` or holds it (the pass is inside
 * `a`, and what follows `b` there is still ahead); no when the pass has left `a` behind.
 */
export function stillAhead(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareNames(a[i]!, b[i]!);
    if (c !== 0) return c > 0;
  }
  return true; // a is b, holds it, or lies inside it
}

/** Is folder `a` where the pass is, or does it hold it? (The top folder holds everything; `[]` is no position.) */
export function holds(a: readonly string[], passAt: readonly string[]): boolean {
  if (passAt.length === 0 || a.length > passAt.length) return a.length === 0;
  return a.every((name, i) => name === passAt[i]);
}

/** Messages from the thread: a clean subtree, or the end of its walk. */
export type AheadMessage = [rel: string, checked: number][] | 'done';

/** How long a finding may wait in the thread before it is posted (findings are posted together, a few a message). */
const POST_EVERY_MS = 5;

/** The pass's side: starts the thread, collects what it found, tells it how far the pass has come. */
export class LookAhead {
  private readonly found = new Map<string, number>();
  private finished = false;
  private heard = false;
  /** Subtrees the pass did not walk again, and the source entries in them (the pass's debug line). */
  skipped = 0;
  skippedEntries = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
  ) {}

  /** Start the thread for this pass, where it is used (see the module's comment); undefined elsewhere. */
  static start(job: AheadJob, allowed: boolean, url = new URL('./lookahead-worker.js', import.meta.url)): LookAhead | undefined {
    if (!allowed || process.env['FOLDER_SYNC_LOOKAHEAD'] === '0') return undefined;
    if (!url.href.endsWith('.js') || availableParallelism() < 2) return undefined;
    const { port1, port2 } = new MessageChannel();
    let worker: Worker;
    try {
      worker = new Worker(url, {
        workerData: { job, port: port2, v8Flags: heapFlagsForWorkers() },
        transferList: [port2],
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      });
    } catch {
      port1.close();
      return undefined;
    }
    worker.unref(); // never keeps the process alive
    worker.on('error', () => undefined); // a thread that dies has simply found nothing more
    port1.unref();
    const ahead = new LookAhead(worker, port1);
    worker.on('exit', () => ahead.ended());
    return ahead;
  }

  /** The subtree at `rel`, if the thread found it mirrored: its source entry count (counted as skipped). */
  clean(rel: string): number | undefined {
    this.drain();
    const checked = this.found.get(rel);
    if (checked === undefined) return undefined;
    this.found.delete(rel);
    this.skipped++;
    this.skippedEntries += checked;
    return checked;
  }

  /** The pass is about to walk the folder at `rel` itself: the thread need not look at it or anything before it. */
  entering(rel: string): void {
    if (!this.finished) this.port.postMessage(rel);
  }

  /** The thread is gone (ended, died, or ran out of its heap on a very wide folder): nothing more will come. */
  ended(): void {
    try {
      this.drain();
    } catch {
      // the port is closed already: the pass is over
    }
    this.finished = true;
  }

  /** Is the thread still walking (and so using the second core)? */
  busy(): boolean {
    this.drain();
    return !this.finished;
  }

  /** Tests (FOLDER_SYNC_TEST_LOOKAHEAD=first): wait until the thread has looked at everything. */
  async wholeWalk(): Promise<void> {
    for (;;) {
      this.drain();
      if (this.finished) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Stop the thread and wait until it is gone (at most a second), so a pass leaves no thread, port or descriptor
   * behind (`run`'s passes keep open files flat). It blocks in nothing that could outlast that: its reads of
   * contents open files O_NONBLOCK (a FIFO swapped in for a file is not waited on).
   */
  async close(): Promise<void> {
    this.port.close();
    let timer: NodeJS.Timeout | undefined;
    const capped = new Promise<void>((r) => (timer = setTimeout(r, 1000).unref()));
    await Promise.race([this.worker.terminate().then(() => undefined), capped]);
    clearTimeout(timer);
  }

  private drain(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      if (!this.heard) {
        // The thread has started (and set the CLI's V8 flags again, heap.ts); once more from here, in case its
        // start-up reset them after that (a process started with Node options that the thread inherits).
        this.heard = true;
        applyHeapFlags(heapFlagsForWorkers());
      }
      const message = m.message as AheadMessage;
      if (message === 'done') this.finished = true;
      else for (const [rel, checked] of message) this.found.set(rel, checked);
    }
  }
}

/** The thread's side (lookahead-worker.ts): walk, post what it finds, stop where the pass has already been. */
export function runAhead(job: AheadJob, port: MessagePort): void {
  let passAt: string[] = [];
  // Tests: the thread fails after its first finding (the pass must carry on without it).
  const crash = process.env['FOLDER_SYNC_TEST_LOOKAHEAD'] === 'first-crash';
  // Findings wait here a few milliseconds: a folder found clean replaces those inside it still waiting (a folder
  // is finished after everything in it, so they are the last ones), which keeps a 1M-file pass to a few hundred
  // messages instead of one per folder (measured: 19 MiB less peak RSS over 1,000,000 files).
  let pending: [string, number][] = [];
  let last = performance.now();
  const post = (): void => {
    if (pending.length > 0) port.postMessage(pending satisfies AheadMessage);
    pending = [];
    last = performance.now();
  };
  try {
    verifyTree(job, {
      clean: (rel, checked) => {
        const inside = `${rel}/`;
        while (pending.length > 0 && pending[pending.length - 1]![0].startsWith(inside)) pending.pop();
        pending.push([rel, checked]);
        if (crash) throw new Error('look-ahead test crash');
      },
      ahead: (rel) => {
        if (performance.now() - last >= POST_EVERY_MS) post();
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) passAt = (m.message as string).split('/');
        return stillAhead(rel, passAt);
      },
      entered: (rel) => holds(rel, passAt),
    });
  } finally {
    // Also after an error: what was found stays true; the pass walks everything else.
    post();
    port.postMessage('done' satisfies AheadMessage);
  }
}
