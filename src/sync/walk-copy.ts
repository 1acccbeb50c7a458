/**
 * The walk's side of copies on two cores (issue 16; the threads and the shared counter are copy-batch.ts): which
 * runs of a folder's plan go into a batch, and how a batch's results come back into the pass — log lines and
 * errors in plan order, what the helper left copied by the pass its own way, a replica folder moved out of its
 * parent meanwhile reported and written no further.
 */
import { join } from 'node:path';
import { accessMode, type OpenFolder } from './access.js';
import { installIn } from './apply.js';
import { discardIn } from './copy-file.js';
import type { ReplicaCaps } from './capabilities.js';
import { batchDone, copyHelper, finishBatch, helpBatch, MAX_BATCH, MAX_BATCH_BYTES, MAX_FILE, MIN_BATCH, startBatch } from './copy-batch.js';
import type { Settling } from './copy-pipeline.js';
import { building, writesDirect } from './walk-build.js';
import { chdirAllowed, type Entry } from './entry.js';
import { EntryChangedError } from './handles.js';
import type { DirFilter } from './pass-filter.js';
import type { PassReport } from './pass-report.js';
import type { PlannedStep } from './plan.js';
import { brokenLink, guardsOf, type Link, type Place } from './walk-replica.js';

export type CopyStep = Extract<PlannedStep, { op: 'copy' }>;

/** What a batch needs from the walk (walk.ts passes its own methods). */
export interface CopyRunHost {
  report: PassReport;
  /** The pass's own copy of one file into a temporary, or under its own name (`direct`: walk-build.ts); its retry and debug line included. */
  copy(from: OpenFolder, into: OpenFolder, src: Entry, rel: string, caps: ReplicaCaps, direct: boolean): string;
  /** The pass's own step, as without a batch (logs itself). */
  apply(
    step: PlannedStep,
    rel: string,
    srcFolder: OpenFolder,
    dstFolder: OpenFolder,
    real: { src: string; dst: string },
    caps: ReplicaCaps,
    filter?: DirFilter,
  ): Promise<boolean>;
  /** Report a replica folder moved or swapped away, or the folder above it that was (`link`; once). */
  lost(rel: string, folder: OpenFolder, real: string, link?: Link | 'self'): void;
  owners(caps: ReplicaCaps): boolean;
}

/** The copy helper, if this pass may use one (the CLI on Linux; started on first use). */
function copier(): ReturnType<typeof copyHelper> {
  return chdirAllowed() && accessMode() === 'fd' ? copyHelper(true) : undefined;
}

/**
 * How many steps from `k` on are plain new-file copies worth handing to the copy helper (0: none, or too few):
 * a new file of at most MAX_FILE bytes (nothing in its way, nothing to keep), no setuid/setgid bits (their debug
 * line is the pass's), at most MAX_BATCH_BYTES in all, on a replica that keeps times through a rename, in a real
 * pass (`dstFolder` undefined in a dry run) of the CLI on Linux.
 */
export function plainRun(steps: readonly PlannedStep[], k: number, dstFolder: OpenFolder | undefined, caps: ReplicaCaps): number {
  if (!dstFolder || !caps.renameKeepsTimes) return 0;
  let end = k;
  let bytes = 0;
  while (end < steps.length && end - k < MAX_BATCH) {
    const s = steps[end] as PlannedStep;
    if (s.op !== 'copy' || s.dst || s.replace || (s.src.mode & 0o6000) !== 0 || s.src.size > MAX_FILE) break;
    if ((bytes += s.src.size) > MAX_BATCH_BYTES) break;
    end++;
  }
  // The helper is asked for (and started, the first time) only once there is a batch for it.
  return end - k >= MIN_BATCH && copier() ? end - k : 0;
}

export class CopyRuns {
  /** Runs of new files copied as batches on both cores (for the pass's debug line). */
  readonly batches = { count: 0, files: 0 };

  constructor(private readonly host: CopyRunHost) {}

  /**
   * Hand a run of new files to the helper, which starts on them at once; the batch is finished later
   * (copy-pipeline.ts), when `settle` runs: this thread then copies its share the pass's own way (taking files
   * from the same counter), the helper the plain ones of its share; what the helper leaves is then done here
   * exactly as without it. Log lines and errors come in plan order. A replica folder found moved out of its
   * parent is reported, and nothing more is written into it. Undefined when there is no helper (the caller
   * copies the run itself).
   */
  start(
    run: CopyStep[],
    rel: string,
    srcFolder: OpenFolder,
    dstFolder: OpenFolder,
    place: Place | undefined,
    caps: ReplicaCaps,
    real: { src: string; dst: string },
    filter?: DirFilter,
  ): Settling | undefined {
    const { report } = this.host;
    const helper = copier();
    if (!helper) return undefined;
    const files = run.map((s) => s.src);
    this.batches.count++;
    this.batches.files += files.length;
    // In a new folder being built under a temporary name, the whole batch is written under its files' own names.
    const direct = writesDirect(
      dstFolder,
      files.length,
      files.reduce((sum, f) => sum + f.size, 0),
    );
    // Before each file, both threads check that the folder is still in its parent (not in a folder being built
    // that no one else can move: walk-build.ts), and each folder above it that someone else could move.
    const own = !direct || place?.movable === true;
    const started = startBatch(
      helper,
      files,
      { src: srcFolder.fd, dst: dstFolder.fd, ...guardsOf(place, dstFolder, own) },
      { modes: caps.modes, owners: this.host.owners(caps), building: direct ? building(dstFolder) : undefined },
    );
    const errors = new Map<number, unknown>();
    let movedAway: Link | 'self' | undefined;
    const mine = (i: number): void => {
      const src = files[i] as Entry;
      // As before each single step: a replica folder moved out of its parent (or below a folder moved) gets nothing more.
      if (movedAway || (place && (movedAway = brokenLink(place, dstFolder, own ? 'up' : 'skip')))) throw new EntryChangedError(real.dst);
      try {
        installIn(dstFolder, this.host.copy(srcFolder, dstFolder, src, join(rel, src.name), caps, direct), src.name);
      } catch (error) {
        errors.set(i, error);
        throw error;
      }
    };
    const byPass = new Set<number>();
    const help = (): void => {
      try {
        dstFolder.workIn(); // bare names for this thread's share (else named through the folder's handle)
      } catch {
        // not pinned: `mine` names its files through the handle instead
      }
      for (const i of helpBatch(helper, started, mine)) byPass.add(i);
    };
    const settle = async (stopping: boolean): Promise<void> => {
      if (!stopping) help();
      const done = await finishBatch(helper, started);
      // Written under their own names: a file the helper did not finish (it died mid-write, or left it) is removed
      // first, so nothing half written is there when the folder is renamed into place (walk-build.ts).
      if (direct) done.forEach((ok, i) => ok || discardIn(dstFolder, (files[i] as Entry).name));
      if (!movedAway && place) movedAway = brokenLink(place, dstFolder);
      for (let i = 0; i < run.length; i++) {
        const step = run[i] as CopyStep;
        const path = join(rel, step.src.name);
        if (done[i]) {
          report.stats.bytes += step.src.size;
          report.op('created', 'file', path, { size: step.src.size });
        } else if (movedAway || stopping) {
          continue; // the folder is reported below; nothing more is written into it (or the pass is stopping)
        } else if (byPass.has(i) && errors.has(i)) {
          report.handle('file', path, errors.get(i));
        } else if (place && (movedAway = brokenLink(place, dstFolder, own ? 'up' : 'skip'))) {
          continue; // found moved away (or a folder above it) since: as before each single step, nothing more
        } else {
          // Left by the helper (or not taken by anyone): the pass copies it itself, as it always does.
          try {
            dstFolder.workIn();
            await this.host.apply(step, rel, srcFolder, dstFolder, real, caps, filter);
          } catch (error) {
            report.handle('file', path, error);
          }
        }
      }
      if (movedAway) this.host.lost(rel, dstFolder, real.dst, movedAway);
    };
    return { ready: () => batchDone(helper, started), help, settle };
  }
}
