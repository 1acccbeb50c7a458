import { exactNames, isProbeName, nameKey, nameProblem, sameMtimeOn, type ReplicaCaps } from './capabilities.js';
import { compareNames, type Entry } from './entry.js';
import { isTempName } from './temp.js';

/**
 * What to do with one name in one directory. The planner is pure: two sorted listings in, actions out.
 * Actions come in the order they must run: everything the source has (in name order), then the extras.
 */
export type Step =
  /**
   * Copy a source file; `replace` is a replica entry of another type that must go first. `meta`: only these
   * metadata differ, but they are not set in place (see `metaStep`): the file is copied again.
   */
  | { op: 'copy'; src: Entry; dst?: Entry; replace?: Entry; meta?: string[] }
  /** Same size, contents must be hashed to decide between `copy` and `meta` (--checksum). */
  | { op: 'compare'; src: Entry; dst: Entry }
  /** Same contents: only permission bits and/or mtime differ. */
  | { op: 'meta'; src: Entry; dst: Entry }
  /** Create a folder (after removing `replace`), then mirror into it. */
  | { op: 'mkdir'; src: Entry; replace?: Entry }
  /** Both sides are folders: mirror into it. */
  | { op: 'descend'; src: Entry; dst: Entry }
  /** Create or re-point a symlink. */
  | { op: 'symlink'; src: Entry; dst?: Entry; replace?: Entry }
  /**
   * Not mirrored, reported: a FIFO, socket or device, or (with `reason`) what the replica cannot hold (a symlink
   * where it has none, a name it refuses, a name that would be the same entry as another). `dst`, if any, is
   * removed with the extras.
   */
  | { op: 'skip'; src: Entry; reason?: string }
  /** An entry the source does not have. */
  | { op: 'remove'; dst: Entry }
  /** A temporary (or capability probe) left by a killed pass. */
  | { op: 'purge-temp'; dst: Entry };

/**
 * On a case- or normalisation-insensitive replica: the replica's entry `dst` is the source's `src` under another
 * spelling (a case-only rename in the source): rename it in place, then the step that follows compares the pair.
 */
export type RenameStep = { op: 'rename'; src: Entry; dst: Entry };
export type PlannedStep = Step | RenameStep;

export interface PlanOptions {
  checksum: boolean;
  /** What the replica keeps (precision, modes, links, names); default: everything, to the millisecond. */
  caps?: ReplicaCaps;
  /** The source keeps local time (FAT): a shift of exactly one hour is no change. */
  srcLocalTime?: boolean;
  /** Owners are mirrored (root, on a replica that keeps them): a different owner or group is a metadata change. */
  owners?: boolean;
}

const SET_ID_BITS = 0o6000;

/**
 * The mode a replica copy of `src` gets: a file keeps its setuid/setgid bits only where its owner is mirrored
 * too (root on a file system that keeps owners), so no setuid file is ever owned by someone else (issue 11).
 */
export function mirroredMode(src: Pick<Entry, 'mode' | 'type'>, owners: boolean): number {
  return owners || src.type !== 'file' ? src.mode : src.mode & ~SET_ID_BITS;
}

/** Owner or group differ, where owners are mirrored (entries listed without them count as the same). */
function ownerDiffers(s: Entry, d: Entry, opts: Pick<PlanOptions, 'owners'>): boolean {
  return (opts.owners ?? false) && s.uid !== undefined && s.gid !== undefined && (s.uid !== d.uid || s.gid !== d.gid);
}

/** Comparison rules when nothing is known of the replica: ext4-like, to the millisecond. */
const EXACT = { mtimePrecisionMs: 1, mtimeRounding: 'truncate', localTime: false } as const;

/**
 * This tool's own leftovers, purged quietly: a temporary file or link, or a temporary folder (a new folder
 * being built: walk-build.ts) or capability probe folder still as a pass made it (`isOwnFolder`), whose name
 * carries a tag only this user's passes make (temp.ts). Any other entry, whatever its name, is the user's.
 */
export const isDebris = (entry: Entry): boolean =>
  entry.type === 'dir' ? (isProbeName(entry.name) || isTempName(entry.name)) && isOwnFolder(entry) : isTempName(entry.name);

/**
 * A folder as only a pass makes one under a temporary name (walk-build.ts): owned by this process's user, mode
 * 0700. With a valid tag, the only folders removed as this tool's own leftovers: a tag is a name anyone who
 * saw it can give a folder of theirs, which then stays a user entry (removed, logged, counted and kept as usual).
 */
export function isOwnFolder(e: Pick<Entry, 'uid' | 'mode'>): boolean {
  return e.uid === process.geteuid?.() && (e.mode & 0o7777) === 0o700;
}

/**
 * Merge-join one directory's source and replica listings (both sorted by compareNames), by exact name.
 * Case- and normalisation-insensitivity of `opts.caps` are ignored here: `planDirOn` handles them.
 */
export function planDir(src: readonly Entry[], dst: readonly Entry[], opts: PlanOptions): Step[] {
  const caps = opts.caps && { ...opts.caps, caseInsensitive: false, normalizationInsensitive: false };
  return planDirOn(src, dst, { ...opts, caps }) as Step[];
}

/**
 * Plan one directory the way the replica compares names. With exact names (ext4, xfs, ...) a plain merge-join;
 * on a case- or normalisation-insensitive replica, source and replica entries are paired by `nameKey`: a
 * replica entry under another spelling is renamed in place (never copied again and removed), and of several
 * source names with one key the first (in name order) that the replica can hold is mirrored, each other one
 * a skip naming it, so passes never flip between them.
 */
export function planDirOn(src: readonly Entry[], dst: readonly Entry[], opts: PlanOptions): PlannedStep[] {
  if (!opts.caps || exactNames(opts.caps)) return mergeJoin(src, dst, opts);
  const caps = opts.caps;
  const steps: PlannedStep[] = [];
  const extras: Step[] = [];
  const byKey = new Map<string, Entry[]>();
  for (const d of dst) {
    if (isDebris(d)) {
      extras.push({ op: 'purge-temp', dst: d });
      continue;
    }
    const key = nameKey(d.name, caps);
    const list = byKey.get(key);
    if (list) list.push(d);
    else byKey.set(key, [d]);
  }
  const claimedBy = new Map<string, string>();
  for (const s of src) {
    const problem = holdProblem(s, caps);
    if (problem) {
      steps.push({ op: 'skip', src: s, reason: problem });
      continue;
    }
    const key = nameKey(s.name, caps);
    const first = claimedBy.get(key);
    if (first !== undefined) {
      steps.push({ op: 'skip', src: s, reason: collision(first, caps) });
      continue;
    }
    claimedBy.set(key, s.name);
    const candidates = byKey.get(key);
    const exact = candidates?.findIndex((d) => d.name === s.name) ?? -1;
    const at = exact >= 0 ? exact : 0;
    const found = candidates?.[at];
    if (!found) {
      steps.push(planNew(s));
      continue;
    }
    candidates?.splice(at, 1);
    let d = found;
    if (d.name !== s.name && !storedAlike(s.name, d.name, caps)) {
      steps.push({ op: 'rename', src: s, dst: d });
      d = { ...d, name: s.name };
    }
    const step = planPair(s, d, opts);
    if (step) steps.push(step);
    if (s.type === 'special') extras.push({ op: 'remove', dst: d });
  }
  const rest: Entry[] = [];
  for (const list of byKey.values()) rest.push(...list);
  rest.sort((a, b) => compareNames(a.name, b.name));
  for (const d of rest) extras.push({ op: 'remove', dst: d });
  return steps.concat(extras);
}

/** The exact-name merge-join (the fast path: no key is computed). */
function mergeJoin(src: readonly Entry[], dst: readonly Entry[], opts: PlanOptions): Step[] {
  const steps: Step[] = [];
  const extras: Step[] = [];
  const caps = opts.caps;
  let i = 0;
  let j = 0;
  while (i < src.length || j < dst.length) {
    const s = src[i];
    const d = dst[j];
    const order = s === undefined ? 1 : d === undefined ? -1 : compareNames(s.name, d.name);
    if (order < 0 && s) {
      const problem = caps && holdProblem(s, caps);
      steps.push(problem ? { op: 'skip', src: s, reason: problem } : planNew(s));
      i++;
    } else if (order > 0 && d) {
      extras.push(isDebris(d) ? { op: 'purge-temp', dst: d } : { op: 'remove', dst: d });
      j++;
    } else if (s && d) {
      const problem = caps && holdProblem(s, caps);
      if (problem) {
        steps.push({ op: 'skip', src: s, reason: problem });
        extras.push({ op: 'remove', dst: d });
      } else {
        const step = planPair(s, d, opts);
        if (step) steps.push(step);
        if (s.type === 'special') extras.push({ op: 'remove', dst: d });
      }
      i++;
      j++;
    }
  }
  return steps.concat(extras);
}

/** Why the replica cannot hold this source entry at all (a planned skip), or undefined. */
function holdProblem(s: Entry, caps: ReplicaCaps): string | undefined {
  if (s.type === 'symlink' && !caps.symlinks) return `the replica's file system (${caps.fsType}) cannot hold symbolic links`;
  return nameProblem(s.name, caps);
}

function collision(first: string, caps: ReplicaCaps): string {
  const how =
    caps.caseInsensitive && caps.normalizationInsensitive
      ? 'without case or Unicode normalisation'
      : caps.caseInsensitive
        ? 'without case'
        : 'without Unicode normalisation';
  return `the replica's file system (${caps.fsType}) compares names ${how}: it would be the same entry as ${JSON.stringify(first)}, which is mirrored`;
}

/** The replica stores names in one normalisation whatever it is given (HFS+): the other spelling cannot be held. */
function storedAlike(srcName: string, dstName: string, caps: ReplicaCaps): boolean {
  return caps.storesNormalized !== undefined && srcName.normalize(caps.storesNormalized) === dstName;
}

function planNew(s: Entry): Step {
  switch (s.type) {
    case 'file':
      return { op: 'copy', src: s };
    case 'dir':
      return { op: 'mkdir', src: s };
    case 'symlink':
      return { op: 'symlink', src: s };
    case 'special':
      return { op: 'skip', src: s };
  }
}

function planPair(s: Entry, d: Entry, opts: PlanOptions): Step | undefined {
  if (s.type === 'special') return { op: 'skip', src: s };
  if (s.type !== d.type) {
    const step = planNew(s) as Extract<Step, { op: 'copy' | 'mkdir' | 'symlink' }>;
    return { ...step, replace: d };
  }
  switch (s.type) {
    case 'dir':
      return { op: 'descend', src: s, dst: d };
    case 'symlink':
      return s.target === d.target && !ownerDiffers(s, d, opts) ? undefined : { op: 'symlink', src: s, dst: d };
    case 'file': {
      if (s.size !== d.size) return { op: 'copy', src: s, dst: d };
      if (opts.checksum) return { op: 'compare', src: s, dst: d };
      if (!sameTime(s, d, opts)) return { op: 'copy', src: s, dst: d };
      return modeDiffers(s, d, opts) || ownerDiffers(s, d, opts) ? metaStep(s, d, opts) : undefined;
    }
  }
  return undefined;
}

/** Same mtime as well as the replica keeps it (its step and rounding; FAT's one-hour shifts). */
function sameTime(s: Entry, d: Entry, opts: Pick<PlanOptions, 'caps' | 'srcLocalTime'>): boolean {
  return sameMtimeOn(s.mtimeMs, d.mtimeMs, opts.caps ?? EXACT, opts.srcLocalTime ?? false);
}

/** Permission bits differ, where the replica keeps them at all. */
function modeDiffers(s: Entry, d: Entry, opts: Pick<PlanOptions, 'caps' | 'owners'>): boolean {
  return (opts.caps?.modes ?? true) && mirroredMode(s, opts.owners ?? false) !== d.mode;
}

type CompareOptions = Pick<PlanOptions, 'caps' | 'srcLocalTime' | 'owners'>;

/** After a content comparison: re-copy, fix metadata only, or nothing. */
export function afterCompare(s: Entry, d: Entry, equal: boolean, opts: CompareOptions = {}): Step | undefined {
  if (!equal) return { op: 'copy', src: s, dst: d };
  if (modeDiffers(s, d, opts) || !sameTime(s, d, opts) || ownerDiffers(s, d, opts)) return metaStep(s, d, opts);
  return undefined;
}

/**
 * A file whose bytes match and whose metadata differ: fixed in place, unless that would give the replica's file
 * to another owner or add a setuid/setgid bit. Whoever could write the replica's file until now (its owner, a
 * user with their own folders in the replica, who can also rename another file of theirs to its name) could
 * have put their own bytes in it with the same size and time; root must not then hand those bytes to another
 * owner or make them run as someone else. Such a file is copied again instead: its bytes come from the source
 * into a new temporary that gets its owner and mode through its own descriptor (review of session 8).
 */
function metaStep(s: Entry, d: Entry, opts: CompareOptions): Step {
  const setIdAdded = (opts.caps?.modes ?? true) && (mirroredMode(s, opts.owners ?? false) & ~d.mode & SET_ID_BITS) !== 0;
  return setIdAdded || ownerDiffers(s, d, opts) ? { op: 'copy', src: s, dst: d, meta: metaDiff(s, d, opts) } : { op: 'meta', src: s, dst: d };
}

/** Which metadata of a file or folder differ (as far as the replica keeps them), for the log note. */
export function metaDiff(s: Entry, d: Entry, opts: CompareOptions = {}): string[] {
  const parts: string[] = [];
  if (modeDiffers(s, d, opts)) parts.push('mode');
  if (!sameTime(s, d, opts)) parts.push('mtime');
  if (ownerDiffers(s, d, opts)) parts.push('owner');
  return parts;
}
