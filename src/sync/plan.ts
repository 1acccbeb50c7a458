import { compareNames, sameMtime, type Entry } from './entry.js';
import { isTempName } from './temp.js';

/**
 * What to do with one name in one directory. The planner is pure: two sorted listings in, actions out.
 * Actions come in the order they must run: everything the source has (in name order), then the extras.
 */
export type Step =
  /** Copy a source file; `replace` is a replica entry of another type that must go first. */
  | { op: 'copy'; src: Entry; dst?: Entry; replace?: Entry }
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
  /** A FIFO, socket or device in the source: not mirrored, reported. `dst` is removed with the extras. */
  | { op: 'skip'; src: Entry }
  /** An entry the source does not have. */
  | { op: 'remove'; dst: Entry }
  /** A temporary left by a killed pass. */
  | { op: 'purge-temp'; dst: Entry };

export interface PlanOptions {
  checksum: boolean;
  /** Owners are mirrored (the pass runs as root): a different owner or group is a metadata change. */
  owners?: boolean;
}

const SET_ID_BITS = 0o6000;

/** The mode a replica copy of `src` should have: setuid/setgid dropped from files when owners are not mirrored. */
export function mirroredMode(src: Pick<Entry, 'mode' | 'type'>, owners: boolean): number {
  return owners || src.type !== 'file' ? src.mode : src.mode & ~SET_ID_BITS;
}

/** Owner or group differ, when owners are mirrored (entries listed without them count as the same). */
function ownerDiffers(s: Entry, d: Entry, owners: boolean): boolean {
  return owners && s.uid !== undefined && s.gid !== undefined && (s.uid !== d.uid || s.gid !== d.gid);
}

/** Merge-join one directory's source and replica listings (both sorted by compareNames). */
export function planDir(src: readonly Entry[], dst: readonly Entry[], opts: PlanOptions): Step[] {
  const steps: Step[] = [];
  const extras: Step[] = [];
  let i = 0;
  let j = 0;
  while (i < src.length || j < dst.length) {
    const s = src[i];
    const d = dst[j];
    const order = s === undefined ? 1 : d === undefined ? -1 : compareNames(s.name, d.name);
    if (order < 0 && s) {
      steps.push(planNew(s));
      i++;
    } else if (order > 0 && d) {
      // Only a file or link this user's passes named is a leftover (they never make folders): see temp.ts.
      extras.push(d.type !== 'dir' && isTempName(d.name) ? { op: 'purge-temp', dst: d } : { op: 'remove', dst: d });
      j++;
    } else if (s && d) {
      const step = planPair(s, d, opts);
      if (step) steps.push(step);
      if (s.type === 'special') extras.push({ op: 'remove', dst: d });
      i++;
      j++;
    }
  }
  return steps.concat(extras);
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
  const owners = opts.owners ?? false;
  if (s.type === 'special') return { op: 'skip', src: s };
  if (s.type !== d.type) {
    const step = planNew(s) as Extract<Step, { op: 'copy' | 'mkdir' | 'symlink' }>;
    return { ...step, replace: d };
  }
  switch (s.type) {
    case 'dir':
      return { op: 'descend', src: s, dst: d };
    case 'symlink':
      return s.target === d.target && !ownerDiffers(s, d, owners) ? undefined : { op: 'symlink', src: s, dst: d };
    case 'file': {
      if (s.size !== d.size) return { op: 'copy', src: s, dst: d };
      if (opts.checksum) return { op: 'compare', src: s, dst: d };
      if (!sameMtime(s.mtimeMs, d.mtimeMs)) return { op: 'copy', src: s, dst: d };
      return mirroredMode(s, owners) !== d.mode || ownerDiffers(s, d, owners) ? { op: 'meta', src: s, dst: d } : undefined;
    }
  }
  return undefined;
}

/** After a content comparison: re-copy, fix metadata only, or nothing. */
export function afterCompare(s: Entry, d: Entry, equal: boolean, owners = false): Step | undefined {
  if (!equal) return { op: 'copy', src: s, dst: d };
  if (metaDiff(s, d, owners).length > 0) return { op: 'meta', src: s, dst: d };
  return undefined;
}

/** Which metadata of a file or folder differ, for the log note. */
export function metaDiff(s: Entry, d: Entry, owners = false): string[] {
  const parts: string[] = [];
  if (mirroredMode(s, owners) !== d.mode) parts.push('mode');
  if (!sameMtime(s.mtimeMs, d.mtimeMs)) parts.push('mtime');
  if (ownerDiffers(s, d, owners)) parts.push('owner');
  return parts;
}
