/**
 * The look-ahead thread's walk (lookahead.ts has the why and the pass's side): the tree back to front, each
 * folder listed by whole path and checked against the identity its parent listed, planned with the pass's own
 * planner and rules, and every subtree with nothing to do reported with its entry count. Pure apart from its
 * reads: `sink` receives the findings and answers where the pass is.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { ReplicaCaps } from './capabilities.js';
import { RANGE, sameContents } from './compare.js';
import { compareNames, listIn, S_IFDIR, S_IFMT, type Entry, type Listing } from './entry.js';
import { rawLstat } from './raw-lstat.js';
import type { FilterSpec } from './filter.js';
import { afterCompare, metaDiff, planDirOn, type PlannedStep, type PlanOptions } from './plan.js';
import type { DirFilter } from './pass-filter.js';
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
  const walk = WalkFilter.load(job.filter?.spec, job.source, job.filter?.deleteExcluded ?? false);
  return walk && { walk, root: walk.root(job.source, rootEntries()) };
}

/** The inodes of a folder pair as the thread found them (the pass uses a finding only for the same folders). */
export interface FolderIds {
  src: bigint;
  dst: bigint;
}

/**
 * A folder's plan as the thread made it (a folder with changes): its steps, and its own source entries (the
 * pass's checked count). The pass applies it as its own, without listing the folder again.
 */
export interface FolderPlan {
  steps: PlannedStep[];
  checked: number;
}

/** Where the thread's findings go, and where it learns how far the pass has come. */
export interface AheadSink {
  /** The subtree at `rel` (source names, '/'-joined) is mirrored already; it holds `checked` source entries. */
  clean(rel: string, checked: number, ids: FolderIds): void;
  /**
   * The folder at `rel` needs changes (in it or below it), and this is its plan: made with no rules, no contents
   * to compare and nothing it could not judge, so it is the plan the pass would make from the same listings.
   */
  planned?(rel: string, plan: FolderPlan, ids: FolderIds): void;
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
    // A replica entry with another hard link: the pass may change its mode, times or owner through that other
    // name (elsewhere in the replica) before it gets here, so what was seen now is not what the pass would see.
    let clean = !dstEntries.some((e) => e.links !== undefined);
    // Its plan can be handed to the pass when the pass would plan it from these listings alone: no exclude rules
    // (ignore files, logged exclusions), no contents to compare (--checksum), no hard-linked replica entry.
    const handable = clean && rel.length > 0 && !job.checksum && !filter;
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
        // --checksum: a file of the same size and time needs nothing when its contents and metadata match. Files
        // of more than one RANGE are the pass's: it reads their ranges on both cores (a third reader only competes).
        clean =
          step.src.size <= RANGE && !sink.entered(rel) && sameFile(join(src, step.src.name), join(dst, step.dst.name), step.src, step.dst, opts);
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
    if (clean && rel.length > 0) sink.clean(rel.join('/'), checked, { src: srcIno, dst: dstIno });
    else if (handable) sink.planned?.(rel.join('/'), { steps, checked: srcEntries.length }, { src: srcIno, dst: dstIno });
    return { clean, checked };
  };
  if (!sameFolder(job.source, job.sourceId.ino, job.sourceId.dev)) return;
  verify(job.source, job.replica, [], job.sourceId.ino, job.replicaId.ino);
}

/**
 * Same bytes (compare.ts, by hash as the pass compares; its reader never waits on a FIFO swapped in for a listed
 * file) and nothing of the metadata to fix. Any error: no.
 */
function sameFile(srcPath: string, dstPath: string, src: Entry, dst: Entry, opts: PlanOptions): boolean {
  try {
    return sameContents(srcPath, dstPath, src.size) && afterCompare(src, dst, true, opts) === undefined;
  } catch {
    return false;
  }
}

/** Is the entry at `path` (not followed) the folder with this inode (and device)? Read without a Stats object where it can be. */
function sameFolder(path: string, ino: bigint, dev?: bigint): boolean {
  try {
    const raw = rawLstat(path);
    if (raw) return (raw.mode & S_IFMT) === S_IFDIR && BigInt(raw.ino) === ino && (dev === undefined || BigInt(raw.dev) === dev);
    const st = lstatSync(path, { bigint: true });
    return st.isDirectory() && st.ino === ino && (dev === undefined || st.dev === dev);
  } catch {
    return false;
  }
}

/** A folder's listing by whole path, when it is the folder its parent listed before and after (else undefined). */
function listChecked(list: (path: string) => Listing, path: string, ino: bigint, dev?: bigint): Listing | undefined {
  if (!sameFolder(path, ino, dev)) return undefined;
  let listing: Listing;
  try {
    listing = list(path);
  } catch {
    return undefined;
  }
  return sameFolder(path, ino, dev) ? listing : undefined;
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
