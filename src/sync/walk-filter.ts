/**
 * The filter as a pass's walk meets it (walk.ts, count-removals.ts, remove.ts): the source's ignore files read as
 * folders are entered, both listings of a folder filtered before planning, and what inside a removed replica
 * folder stays because it matches an exclude. The rules themselves: pass-filter.ts.
 */
import { closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import { compareNames, type Entry } from './entry.js';
import { openFileChecked } from './handles.js';
import type { FilterSpec } from './filter.js';
import { PassFilter, type DirFilter } from './pass-filter.js';
import { isDebris } from './plan.js';

/**
 * Read a source folder's ignore files from its listing (regular files only: a link named .gitignore is not
 * followed, as git does not). Throws when one cannot be read: its folder cannot be filtered faithfully.
 */
export function readIgnoreFiles(filter: PassFilter, dir: string, entries: readonly Entry[], shownDir = dir): string[] {
  const texts: string[] = [];
  if (filter.ignoreFiles.length === 0) return texts;
  for (const name of filter.ignoreFiles) {
    const entry = entries.find((e) => e.name === name);
    if (entry?.type !== 'file') continue;
    try {
      texts.push(readListedFile(join(dir, name), entry));
    } catch (error) {
      // Named by the folder's real path, not the handle's (`dir` may be `/proc/self/fd/<fd>`).
      if (error && typeof error === 'object') (error as NodeJS.ErrnoException).path = join(shownDir, name);
      throw error;
    }
  }
  return texts;
}

/**
 * Read a file the listing saw as a regular file, without following a link swapped in since (O_NOFOLLOW) and
 * only if it is still the file listed (its inode): nothing outside the source is read as patterns either.
 */
function readListedFile(path: string, entry: Entry): string {
  const { fd } = openFileChecked(() => path, path, entry);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** One folder's listings with the filter applied: what the planner sees, and what was left out (for the log). */
export interface FilteredListings {
  src: Entry[];
  dst: Entry[];
  /** Source entries left out. */
  excluded: Entry[];
  /** Replica entries left alone because they match an exclude (not with --delete-excluded). */
  protected: Entry[];
}

/**
 * Apply a folder's filter to both listings (each sorted by compareNames). An excluded source entry is dropped;
 * its replica counterpart is dropped too (left alone) unless `deleteExcluded`, when it stays and is planned as an
 * extra to remove. A replica-only entry that matches an exclude (pattern, or a marker inside a folder) is left
 * alone likewise. A pair whose source entry is kept is always planned (the source decides), and this tool's own
 * temporaries are never protected.
 */
export function filterListings(
  dir: DirFilter,
  src: readonly Entry[],
  dst: readonly Entry[],
  opts: { deleteExcluded: boolean; srcMarked: (name: string) => boolean; dstMarked: (name: string) => boolean },
): FilteredListings {
  const excluded: Entry[] = [];
  const kept: Entry[] = []; // `protected` of the result
  const markers = dir.pass.markers.length > 0;
  const protects = (d: Entry): boolean => {
    if (opts.deleteExcluded || isDebris(d)) return false;
    const isDir = d.type === 'dir';
    return dir.excluded(d.name, isDir) || (markers && isDir && opts.dstMarked(d.name));
  };
  let j = 0;
  for (const s of src) {
    const isDir = s.type === 'dir';
    const out = dir.excluded(s.name, isDir) || (markers && isDir && opts.srcMarked(s.name));
    // Replica entries before this name have no source counterpart.
    for (; j < dst.length && compareNames((dst[j] as Entry).name, s.name) < 0; j++) if (protects(dst[j] as Entry)) kept.push(dst[j] as Entry);
    const pair = j < dst.length && (dst[j] as Entry).name === s.name ? (dst[j++] as Entry) : undefined;
    if (out) {
      excluded.push(s);
      if (pair && !opts.deleteExcluded) kept.push(pair);
    }
  }
  for (; j < dst.length; j++) if (protects(dst[j] as Entry)) kept.push(dst[j] as Entry);
  // Most folders leave nothing out: their listings are handed on as they are (no copy of every entry, issue 16).
  if (excluded.length === 0 && kept.length === 0) return { src: src as Entry[], dst: dst as Entry[], excluded, protected: kept };
  const left = new Set(excluded);
  const alone = new Set(kept);
  return { src: src.filter((e) => !left.has(e)), dst: dst.filter((e) => !alone.has(e)), excluded, protected: kept };
}

/**
 * The filter as a pass's walk uses it: the folder filters (ignore files read as folders are entered, markers
 * looked for), the listings filtered before planning, and one debug line per entry left out.
 */
export class WalkFilter {
  constructor(
    readonly pass: PassFilter,
    private readonly deleteExcluded: boolean,
    /** Where the debug lines go (undefined: nowhere, as in the --max-delete count). */
    private readonly debug?: (message: string) => void,
  ) {}

  /** A pass's rules as its walk uses them (the pass and the look-ahead thread); undefined when none is in force. */
  static load(spec: FilterSpec | undefined, source: string, deleteExcluded: boolean, debug?: (message: string) => void): WalkFilter | undefined {
    if (!spec) return undefined;
    const pass = PassFilter.load(spec, source);
    return pass.inactive ? undefined : new WalkFilter(pass, deleteExcluded, debug);
  }

  /** The source root's filter, from its listing. Throws RefusedError when one of its ignore files cannot be read. */
  root(source: string, entries: readonly Entry[]): DirFilter {
    try {
      return this.pass.root(readIgnoreFiles(this.pass, source, entries));
    } catch (error) {
      throw new RefusedError(`${describeIgnoreFailure(error)} in the source folder ${source}; nothing was changed`);
    }
  }

  /**
   * A subfolder's filter, from its listing. Throws when one of its ignore files cannot be read (the folder fails).
   * `shown`: the folder's path for that error (made only where there are ignore files to read).
   */
  child(parent: DirFilter, name: string, srcPath: string, entries: readonly Entry[], shown?: () => string): DirFilter {
    if (this.pass.ignoreFiles.length === 0) return parent.child(name);
    try {
      return parent.child(name, readIgnoreFiles(this.pass, srcPath, entries, shown?.() ?? srcPath));
    } catch (error) {
      throw new Error(`${describeIgnoreFailure(error)}; the folder is left as it is`);
    }
  }

  /** One folder's listings as the planner must see them (see filterListings); excluded entries logged as debug. */
  listings(dir: DirFilter, srcPath: string, dstPath: string, src: readonly Entry[], dst: readonly Entry[]): { src: Entry[]; dst: Entry[] } {
    const out = filterListings(dir, src, dst, {
      deleteExcluded: this.deleteExcluded,
      srcMarked: (name) => this.pass.hasMarker(join(srcPath, name)),
      dstMarked: (name) => this.pass.hasMarker(join(dstPath, name)),
    });
    if (this.debug) {
      for (const e of out.excluded) this.debug(`excluded ${JSON.stringify(dir.rel + e.name)}`);
      for (const e of out.protected) this.debug(`left alone (excluded) ${JSON.stringify(dir.rel + e.name)}`);
    }
    return out;
  }

  /**
   * What inside a replica folder the pass removes (the extra entry `name` of `dir`'s folder) is left alone: what
   * matches an exclude stays, and so does the folder then. Undefined with --delete-excluded (everything goes).
   */
  insideRemoved(dir: DirFilter, name: string): RemovalGuard | undefined {
    return this.deleteExcluded ? undefined : new RemovalGuard(this, dir.child(name), this.debug);
  }

  /** Whether the source root holds anything that would be mirrored (the empty-source guard's question). */
  mirrorsAnything(dir: DirFilter, source: string, entries: readonly Entry[]): boolean {
    const kept = filterListings(dir, entries, [], {
      deleteExcluded: false,
      srcMarked: (name) => this.pass.hasMarker(join(source, name)),
      dstMarked: () => false,
    });
    return kept.src.some((e) => e.type !== 'special');
  }
}

/** The rules inside a replica folder being removed: which of its entries stay (see WalkFilter.insideRemoved). */
export class RemovalGuard {
  constructor(
    private readonly walk: WalkFilter,
    private readonly dir: DirFilter,
    private readonly debug?: (message: string) => void,
  ) {}

  /** True when `child` (an entry of the folder at `folderPath`) matches an exclude and stays. */
  keeps(child: Entry, folderPath: string): boolean {
    if (isDebris(child)) return false;
    const isDir = child.type === 'dir';
    if (!this.dir.excluded(child.name, isDir) && !(isDir && this.walk.pass.hasMarker(join(folderPath, child.name)))) return false;
    this.debug?.(`left alone (excluded) ${JSON.stringify(this.dir.rel + child.name)}`);
    return true;
  }

  /** The guard inside a subfolder. */
  inside(name: string): RemovalGuard {
    return new RemovalGuard(this.walk, this.dir.child(name), this.debug);
  }
}

function describeIgnoreFailure(error: unknown): string {
  const path = (error as NodeJS.ErrnoException).path;
  return `ignore file ${path ? JSON.stringify(path) : ''} cannot be read: ${describeError(error)}`;
}
