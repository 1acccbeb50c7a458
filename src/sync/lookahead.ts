/**
 * The look-ahead thread (issue 16, "split the tree between workers"): while the pass walks the tree front to
 * back, a second thread walks it back to front and *only looks*: it lists both sides of each folder, plans it
 * with the same pure planner the pass uses (plan.ts), and reports every subtree whose plan is empty throughout
 * (nothing to copy, update, remove or report, no folder metadata to fix). When the pass reaches such a subtree
 * it adds its entries to the checked count and does not walk it again. A folder with changes (in it or below
 * it) is reported with its plan instead (session 8), where that plan is all the pass would plan it from: no
 * exclude rules, no --checksum, no replica entry with another hard link, nothing it could not look at. The pass
 * then applies that plan as its own, without listing the folder again. Everything else it walks as before.
 *
 * Why it is safe:
 * - The thread never writes and never opens a file: `lstat`, `readdir`, `readlink` by whole path. A subtree it
 *   reports clean is one the pass would have left unchanged; a plan it reports is the pass's planner on the two
 *   listings of that folder pair. A listing by path can hold another folder's entries (a folder exchanged with
 *   a link and back while it was listed), so before applying a plan the pass looks again, through its own
 *   opened folders, at every entry the plan names, and drops the plan unless each is exactly as planned
 *   (plan-check.ts): owners, modes, link targets and names it writes or logs are the folder's own. It then
 *   applies the plan exactly as its own: every write or removal through its opened folders. Any
 *   doubt (a listing problem, a folder swapped while listed, another device below the replica, an entry it
 *   cannot judge) means no finding, and the pass walks that folder as always.
 * - Each folder is checked against the identity its parent's listing gave it before and after it is listed,
 *   and the roots against the folders the pass opened; the pass uses a finding only for the folder pair it was
 *   made in (the same inodes as its own listing gives them). A path it resolves can only be redirected through
 *   a folder someone can write; everything below that folder is theirs to change anyway.
 * - A subtree found clean at one moment and changed before the pass reaches it is a change made during the
 *   pass: like any pass (and rsync's file list), it is taken up by the next pass. A planned folder in which an
 *   entry the plan names changed since (another mode or size, gone, a subfolder replaced) is listed by the pass.
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
 * cores, started once the pass has looked at AHEAD_AFTER entries (a smaller tree is done before the thread would
 * have started). `FOLDER_SYNC_LOOKAHEAD=0` turns it off.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { applyHeapFlags, heapFlagsForWorkers } from '../heap.js';
import type { AheadJob, FolderIds, FolderPlan } from './lookahead-walk.js';

export type { AheadJob, FolderPlan } from './lookahead-walk.js';

/** Messages from the thread: clean subtrees and plans, or the end of its walk ('walked': tests' first-hold, see runAhead). */
export type AheadMessage = (Finding | PlanFinding)[] | 'done' | 'walked';

/** A subtree found mirrored: where, its source entries, and the folders it was found in. */
export type Finding = [rel: string, checked: number, ids: FolderIds];

/** A folder with changes, planned by the thread: where, its plan, and the folders it was made in. */
export type PlanFinding = [rel: string, plan: FolderPlan, ids: FolderIds];

/** A finding (a count, or a plan) when it was made in the folders the pass now has (same source and replica inodes). */
export function usable<T>(found: [T, FolderIds] | undefined, ids: Partial<FolderIds>): T | undefined {
  if (!found) return undefined;
  const [what, seen] = found;
  return seen.src === ids.src && seen.dst === ids.dst ? what : undefined;
}

/**
 * Plan steps that may wait in the pass at once (posted, not yet taken). A step holds two entries (~0.7 KB while
 * it waits); where a large share of the tree changed (a chmod -R, a replica copied without its times) the thread
 * would otherwise run far ahead of a pass busy writing, and peak memory would follow the number of changes.
 * Above it the thread posts no plan (the pass lists those folders itself) until the pass has taken some.
 */
export const PLAN_STEPS_WAITING = 8192;

/**
 * Entries the pass looks at before it starts the thread. Starting one costs ~20 ms of a core (an isolate, the
 * modules, the hash); the pass looks at ~2,000 entries in ~10 ms, so a tree that small is done sooner without
 * it, and on a tree with a few huge files (--checksum) both cores already read the pass's compare ranges.
 */
export const AHEAD_AFTER = 2000;

/** The look-ahead as the walk uses it: started at the first folder the pass enters once `due()` (see AHEAD_AFTER). */
export class DeferredAhead {
  thread: LookAhead | undefined;
  private tried = false;

  constructor(
    private readonly start: () => LookAhead | undefined,
    private readonly due: () => boolean,
  ) {}

  /** Start it now (tests: FOLDER_SYNC_TEST_LOOKAHEAD=first). */
  startNow(): LookAhead | undefined {
    if (!this.tried) {
      this.tried = true;
      this.thread = this.start();
    }
    return this.thread;
  }

  clean(rel: string, ids: Partial<FolderIds>): number | undefined {
    return this.startedWhenDue()?.clean(rel, ids);
  }

  planned(rel: string, ids: Partial<FolderIds>): FolderPlan | undefined {
    return this.startedWhenDue()?.planned(rel, ids);
  }

  /** The thread, started first if it is due now (the walk posts where it is, `entering`, right after). */
  private startedWhenDue(): LookAhead | undefined {
    if (!this.tried && this.due()) this.startNow();
    return this.thread;
  }

  entering(rel: string): void {
    this.thread?.entering(rel);
  }

  busy(): boolean {
    return this.thread?.busy() ?? false;
  }

  /** Not started yet: it will be, once due (the pass has looked at AHEAD_AFTER entries; walk.ts compareAll). */
  waiting(): boolean {
    return !this.tried;
  }

  async close(): Promise<void> {
    await this.thread?.close();
  }
}

/** The pass's side: starts the thread, collects what it found, tells it how far the pass has come. */
export class LookAhead {
  private readonly found = new Map<string, [checked: number, ids: FolderIds]>();
  private readonly plans = new Map<string, [plan: FolderPlan, ids: FolderIds]>();
  private finished = false;
  private walked = false;
  private heard = false;
  /** Subtrees the pass did not walk again, and the source entries in them (the pass's debug line). */
  skipped = 0;
  skippedEntries = 0;
  /** Folders with changes whose plan the pass took from the thread (their listings not taken again). */
  plansUsed = 0;

  /** Plans the thread held back: too many steps were waiting in the pass (PLAN_STEPS_WAITING). */
  get plansHeldBack(): number {
    return Atomics.load(this.waiting, 1);
  }

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    /**
     * [0]: plan steps posted and not yet taken (PLAN_STEPS_WAITING): the thread adds, the pass subtracts.
     * [1]: plans the thread did not post because of that cap.
     */
    private readonly waiting: Int32Array,
  ) {}

  /** Start the thread for this pass, where it is used (see the module's comment); undefined elsewhere. */
  static start(job: AheadJob, allowed: boolean, url = new URL('./lookahead-worker.js', import.meta.url)): LookAhead | undefined {
    if (!allowed || process.env['FOLDER_SYNC_LOOKAHEAD'] === '0') return undefined;
    if (!url.href.endsWith('.js') || availableParallelism() < 2) return undefined;
    const { port1, port2 } = new MessageChannel();
    const waiting = new Int32Array(new SharedArrayBuffer(8));
    let worker: Worker;
    try {
      worker = new Worker(url, {
        workerData: { job, port: port2, v8Flags: heapFlagsForWorkers(), waiting },
        transferList: [port2],
        // A young generation of 16 MiB (4 before session 9): the thread makes an Entry per listed name and a plan
        // per folder, and fewer scavenges promote fewer of them. No-op over 100k files, nine alternating rounds:
        // 503 -> 492 ms; peak RSS lower, not higher (100k files 80 -> 75 MiB, 1M 86 -> 80 MiB: less old space).
        resourceLimits: { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 64 },
      });
    } catch {
      port1.close();
      return undefined;
    }
    worker.unref(); // never keeps the process alive
    worker.on('error', () => undefined); // a thread that dies has simply found nothing more
    port1.unref();
    const ahead = new LookAhead(worker, port1, waiting);
    worker.on('exit', () => ahead.ended());
    return ahead;
  }

  /**
   * The subtree at `rel`, if the thread found it mirrored *in these folders* (the inodes the pass's own listing
   * gives them; a folder replaced since the thread looked is walked): its source entry count (counted as skipped).
   */
  clean(rel: string, ids: Partial<FolderIds>): number | undefined {
    this.drain();
    const checked = usable(this.found.get(rel), ids);
    if (checked === undefined) return undefined;
    this.found.delete(rel);
    this.skipped++;
    this.skippedEntries += checked;
    return checked;
  }

  /**
   * The plan the thread made for the folder at `rel` (a folder with changes), if it made one *in these folders*
   * (as for `clean`): the pass applies it instead of listing and planning the folder again.
   */
  planned(rel: string, ids: Partial<FolderIds>): FolderPlan | undefined {
    this.drain();
    const found = this.plans.get(rel);
    if (!found) return undefined;
    const plan = usable(found, ids);
    this.plans.delete(rel); // used now, or made in other folders: never of use later
    Atomics.sub(this.waiting, 0, found[0].steps.length);
    if (plan) this.plansUsed++;
    return plan;
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

  /** Tests (FOLDER_SYNC_TEST_LOOKAHEAD=first...): wait until the thread has looked at everything. */
  async wholeWalk(): Promise<void> {
    for (;;) {
      this.drain();
      if (this.finished || this.walked) return;
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
      else if (message === 'walked') this.walked = true;
      else
        for (const [rel, found, ids] of message) {
          if (typeof found === 'number') this.found.set(rel, [found, ids]);
          else this.plans.set(rel, [found, ids]);
        }
    }
  }
}
