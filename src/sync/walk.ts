/**
 * The walk of one pass: a folder at a time, both sides, source order. The seams later work builds on:
 * - Listing: `mirrorDir` has the source folder's listing (its caller took it) and takes the replica folder's
 *   (`listReplica`, walk-replica.ts), then hands both to the pure planner `planDir`. A filter drops excluded
 *   names from both listings right there, before planning, so they are neither copied nor removed.
 * - Deciding: `planDir` gets the options it decides with (`PlanOptions`); what the replica can hold (its
 *   capabilities) is passed in the same way, never discovered here by failing.
 * - Acting: `applyStep` (walk-apply.ts) is the one switch over planned steps; apply.ts does the writes,
 *   remove.ts every removal (where a versions store would keep entries instead of deleting them). A dry run goes
 *   through the same switch minus the writes. `--max-delete` counts with the same listings and planner
 *   (count-removals.ts).
 * - Access (issue 11): both trees are walked through opened folders (access.ts). Each folder is opened from its
 *   parent's handle without following a link and checked against its listing, listed through its handle, and
 *   everything below is named through it: the paths handed to apply.ts, remove.ts, the filter and --checksum
 *   are `/proc/self/fd/<fd>/<name>` on Linux (`OpenFolder.io`), so only the last name is ever resolved (where the
 *   pass compares alone, bare names in the folder pinned as the working folder: compare-in-folders.ts). The
 *   capabilities book keys folders by their real paths (`dstReal`), which only choose the rules to compare by.
 */
import { join } from 'node:path';
import { accessMode, type OpenFolder } from './access.js';
import { ensureOwnerAccess } from './apply.js';
import type { ReplicaCaps } from './capabilities.js';
import { RANGE, type Verdict } from './compare.js';
import { compareInFolders } from './compare-in-folders.js';
import { compareFiles } from './compare-files.js';
import type { Entry } from './entry.js';
import type { LookAhead } from './lookahead.js';
import { kindOf, type PassReport } from './pass-report.js';
import { afterCompare, planDirOn, type PlannedStep, type Step } from './plan.js';
import { planHolds } from './plan-check.js';
import { applyStep, type MirrorDir, type StepWalk } from './walk-apply.js';
import { CopyPipeline, MAX_QUEUED } from './copy-pipeline.js';
import { SLOTS } from './copy-batch.js';
import { SourceAhead } from './source-ahead.js';
import { CopyRuns, plainRun, type CopyStep } from './walk-copy.js';
import { mirrorsOwners, type WalkOptions } from './walk-options.js';
import { copyWithRetry } from './walk-put.js';
import { finishBuild, renameFull } from './walk-build.js';
import { brokenLink, listReplica, MovedFolders } from './walk-replica.js';

type CompareStep = Extract<Step, { op: 'compare' }>;

/** --checksum: bytes of small files the pass compares alone before the look-ahead starts (see compareAll). */
export const ALONE_BEFORE_AHEAD = 64 << 20;

/** One mirror pass over a tree: walk both sides a folder at a time, plan each folder, apply the plan. */
export class MirrorWalk implements StepWalk {
  /** Runs of new files copied on both cores (walk-copy.ts); `copies.batches` counts them for the pass's debug line. */
  readonly copies: CopyRuns;
  /** Batches under way while the walk goes on, and what waits behind them (copy-pipeline.ts). */
  readonly pipe = new CopyPipeline();
  /** --checksum: files compared on this thread through its opened folders (compareAll; the pass's debug line). */
  comparedHere = 0;
  /** --checksum: bytes compared on this thread before the look-ahead started (ALONE_BEFORE_AHEAD). */
  private comparedEarly = 0;
  /** Plans of the look-ahead thread dropped because an entry they name was no longer as planned (plan-check.ts). */
  plansDropped = 0;
  /** New subtrees' source files read ahead of their copy (source-ahead.ts). */
  readonly sourceAhead = new SourceAhead();
  /** issue 16: subtrees a second thread found already mirrored (lookahead.ts), when the pass has one. */
  lookahead?: Pick<LookAhead, 'clean' | 'planned' | 'entering' | 'busy'> & { waiting?(): boolean };
  /** Replica folders found moved or swapped away mid-pass (walk-replica.ts). */
  readonly moved: MovedFolders;

  constructor(
    readonly report: PassReport,
    readonly opts: WalkOptions,
  ) {
    this.moved = new MovedFolders(report);
    report.holdWith(this.pipe);
    this.copies = new CopyRuns({
      report,
      copy: (from, into, src, rel, caps, direct) => copyWithRetry(this, from, into, src, rel, caps, direct),
      apply: (step, rel, srcFolder, dstFolder, real, caps, filter) => applyStep(this, step, rel, srcFolder, dstFolder, real, caps, filter),
      lost: (rel, folder, real, link) => this.moved.lost(rel, folder, real, link),
      owners: (caps) => mirrorsOwners(opts, caps),
    });
  }

  /**
   * Mirror one folder whose source listing is already taken. `dst` is the replica folder's entry as listed
   * before any change (undefined when it does not exist yet, only possible in a dry run); `fresh` when this
   * pass just created it (empty and owner-writable); `filter` the rules in force in this folder, if any.
   * Returns true when anything inside was changed. Its parameters are typed by `MirrorDir` (walk-apply.ts, whose
   * steps call it back for subfolders).
   */
  readonly mirrorDir: MirrorDir = async (rel, srcFolder, dstFolder, from, dst, fresh, ...rest) => {
    // A folder this pass created: its source subtree is read ahead of the copy (source-ahead.ts).
    const end = fresh && !this.opts.dryRun && !this.opts.filter ? this.sourceAhead.begin(srcFolder) : undefined;
    try {
      return await this.mirrorFolder(rel, srcFolder, dstFolder, from, dst, fresh, ...rest);
    } finally {
      end?.();
      // Built under a temporary name and left early (stopping, an error): what is in it is put in place all the same.
      await finishBuild(dstFolder, this).catch(() => undefined);
    }
  };

  private readonly mirrorFolder: MirrorDir = async (rel, srcFolder, dstFolder, from, dst, fresh, filter, caps, dstReal, srcReal, place) => {
    const srcPath = srcFolder.io;
    const dstPath = dstFolder?.io ?? dstReal;
    const since = this.pipe.mark();
    await this.report.breathe();
    // The look-ahead thread's plan for this folder (lookahead.ts): made from its listings as the pass would, and
    // used only when every entry it names is still exactly so in the pass's own folders (plan-check.ts).
    const offered = 'steps' in from ? from : undefined;
    const planned = offered && planHolds(offered.steps, srcFolder, dstFolder) ? offered : undefined;
    if (offered && !planned) this.plansDropped++;
    const srcListing = !('steps' in from) ? from : planned ? { entries: [], issues: [] } : srcFolder.list();
    const keep = this.report.sourceIssues(rel, srcListing);
    let srcEntries = srcListing.entries;

    let dstEntries: Entry[] = [];
    let dstMode = dst?.mode ?? 0o700;
    let opened = fresh;
    if (dst && dstFolder && !fresh && !planned) {
      const listed = listReplica(this, rel || '.', dstFolder, dstMode);
      if (!listed) return false;
      dstEntries = listed.entries;
      if (listed.opened) {
        opened = true;
        dstMode |= 0o700;
      }
      if (keep.size) dstEntries = dstEntries.filter((e) => !keep.has(e.name));
      // issue 14: the versions folder in the replica's top folder is neither mirrored into nor removed.
      if (rel === '' && this.opts.leaveAlone !== undefined) dstEntries = dstEntries.filter((e) => e.name !== this.opts.leaveAlone);
    }
    // Excluded names leave both listings here: neither copied nor removed (nor walked, for folders).
    if (filter && this.opts.filter && !planned)
      ({ src: srcEntries, dst: dstEntries } = this.opts.filter.listings(filter, srcPath, dstPath, srcEntries, dstEntries));

    this.report.stats.checked += planned ? planned.checked : srcEntries.length;
    let changed = false;
    const steps =
      planned?.steps ??
      planDirOn(srcEntries, dstEntries, {
        checksum: this.opts.checksum,
        caps,
        srcLocalTime: this.opts.srcLocalTime,
        owners: mirrorsOwners(this.opts, caps),
      });
    // --checksum: the folder's content checks run first, as one batch both cores share (compare-files.ts).
    const verdicts = await this.compareAll(steps, srcFolder, dstFolder, dstPath);
    for (let k = 0; k < steps.length; k++) {
      const planned = steps[k] as PlannedStep;
      await this.report.breathe();
      // A new folder being built whose subtree has taken its share is renamed into place now (walk-build.ts).
      if (fresh && dstFolder) await renameFull(dstFolder, this);
      // Log lines wait behind copies under way (copy-pipeline.ts): not thousands of them, nor a whole folder's removal.
      const removesFolder = planned.op === 'remove' && planned.dst.type === 'dir';
      if (this.pipe.queued >= MAX_QUEUED || (removesFolder && this.pipe.holding)) await this.pipe.room(0);
      // A run of new files: copied on both cores (copy-batch.ts), logged in plan order all the same.
      const run = plainRun(steps, k, this.opts.dryRun ? undefined : dstFolder, caps);
      if (run > 0 && dstFolder) {
        dstFolder.workIn();
        if (!this.moved.holdsBelow(place, dstFolder, rel, dstReal)) return false;
        if (!opened) {
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        await this.pipe.room(SLOTS - 1);
        const started = this.copies.start(
          steps.slice(k, k + run) as CopyStep[],
          rel,
          srcFolder,
          dstFolder,
          place,
          caps,
          { src: srcReal, dst: dstReal },
          filter,
        );
        if (started) {
          this.sourceAhead.copying(run);
          this.pipe.add(started);
          changed = true;
          k += run - 1;
          continue;
        }
      }
      let step: PlannedStep | undefined = planned;
      const entry = 'src' in step ? step.src : step.dst;
      try {
        // Contents decide first, so a re-copy below opens a read-only folder like any other change.
        if (step.op === 'compare') step = this.compared(step, verdicts.get(step), caps);
        if (!step) continue;
        const acts = !this.opts.dryRun && step.op !== 'skip' && step.op !== 'descend';
        // The calls that follow name entries of this replica folder: by bare names where the layer can (access.ts).
        if (acts && dstFolder) dstFolder.workIn();
        // Moved out of its parent (or a folder above it that someone else could move, walk-replica.ts): writes
        // would still land in the folder that was opened, wherever it went, so nothing more is written; it is
        // reported instead. (`..` is one bare lookup per step; that its *name* still leads to it is checked
        // once, after the folder's steps, below.)
        if (acts && dstFolder && !this.moved.holdsBelow(place, dstFolder, rel, dstReal)) return false; // its metadata untouched too
        if (!this.opts.dryRun && !opened && step.op !== 'descend' && step.op !== 'skip' && step.op !== 'meta') {
          // First change in this folder: make sure its owner can write it (read-only folders are still mirrored).
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        if (step.op === 'copy') this.sourceAhead.copying(1);
        if (await applyStep(this, step, rel, srcFolder, dstFolder, { src: srcReal, dst: dstReal }, caps, filter)) changed = true;
      } catch (error) {
        this.report.handle(kindOf(entry), join(rel, entry.name), error);
        if (step && step.op !== 'descend' && step.op !== 'skip') changed = true;
      }
    }
    // A new folder built under a temporary name: into place once the copies into it are complete (walk-build.ts).
    await finishBuild(dstFolder, this);
    if ((changed || opened) && place && dstFolder && !this.opts.dryRun) {
      // Renamed within its parent (and something else put at its name) while its steps ran: what was written
      // went into the folder that was opened, still inside the replica; the name is reported as changed (and
      // its metadata is not touched: MovedFolders.holds). After its copies still under way, if any.
      await this.pipe.after(() => {
        const link = brokenLink(place, dstFolder, 'name');
        if (link) this.moved.lost(rel, dstFolder, dstReal, link);
      }, since);
    }
    // Opening the folder changed its mode: the caller must restore it even if nothing else changed.
    return changed || opened;
  };

  /** --checksum: compare the contents of a folder's `compare` steps (an unreadable replica copy counts as different). */
  private async compareAll(
    steps: readonly PlannedStep[],
    srcFolder: OpenFolder,
    dstFolder: OpenFolder | undefined,
    dstDir: string,
  ): Promise<Map<PlannedStep, Verdict>> {
    const checks = steps.filter((s): s is CompareStep => s.op === 'compare');
    if (checks.length === 0) return new Map();
    // While the look-ahead thread runs it has the second core: files of one range each are compared on this
    // thread alone (measured: 1.69 s instead of 1.85 s for the 100k-file tree); larger ones still on both. And
    // before it starts (the pass's first AHEAD_AFTER entries), up to ALONE_BEFORE_AHEAD bytes: a batch message
    // and its wait cost more than a few small files (small tree: 1.117 -> 1.085 s, nine alternating rounds).
    const small = checks.every((s) => s.src.size <= RANGE);
    const bytes = small ? checks.reduce((sum, s) => sum + s.src.size, 0) : 0;
    const early = small && this.lookahead?.waiting?.() === true && this.comparedEarly + bytes <= ALONE_BEFORE_AHEAD;
    const alone = small && (this.lookahead?.busy() === true || early);
    if (early) this.comparedEarly += bytes;
    let verdicts: Verdict[];
    if (alone && dstFolder && accessMode() === 'fd') {
      // Alone, and synchronously: each file opened by its bare name through the folders the walk opened.
      this.comparedHere += checks.length;
      verdicts = compareInFolders(
        checks.map(({ src, dst }) => ({ src: src.name, dst: dst.name, size: src.size })),
        srcFolder,
        dstFolder,
      );
    } else {
      const pairs = checks.map(({ src, dst }) => ({ src: join(srcFolder.io, src.name), dst: join(dstDir, dst.name), size: src.size }));
      verdicts = await compareFiles(pairs, alone ? { helper: false } : {});
    }
    return new Map(checks.map((s, i) => [s, verdicts[i]!]));
  }

  /** What a compared file needs: a copy, its metadata, or nothing. The source failing to read is that file's error. */
  private compared(step: CompareStep, verdict: Verdict | undefined, caps: ReplicaCaps): Step | undefined {
    if (verdict instanceof Error) throw verdict;
    return afterCompare(step.src, step.dst, verdict ?? false, { caps, srcLocalTime: this.opts.srcLocalTime, owners: mirrorsOwners(this.opts, caps) });
  }
}
