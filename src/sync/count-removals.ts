/**
 * `--max-delete`'s question, answered before the pass changes anything: how many replica entries would it
 * remove? Read-only, with the same listings and the same pure planner as the pass (walk.ts), so the count
 * follows the plan's rules. A replica folder it cannot list without opening it (which would be a change) makes
 * the count impossible: that folder is named instead. Like the pass, it reaches every folder through an opened
 * handle without following a link (access.ts), so a swap cannot make it list anything outside the two trees.
 */
import { join } from 'node:path';
import { OpenFolder } from './access.js';
import { unpinWorkingFolder } from './working-folder.js';
import { isUndecodableName, listOrDenied, type Entry, type Listing } from './entry.js';
import type { ReplicaCaps } from './capabilities.js';
import type { DirFilter } from './pass-filter.js';
import type { RemovalGuard, WalkFilter } from './walk-filter.js';
import { planDirOn } from './plan.js';
import { isTempName } from './temp.js';

export type RemovalCount = { removed: number; uncountable?: undefined } | { removed?: undefined; uncountable: string };

/** A replica folder that cannot be listed as it is: nothing below it can be counted. */
class Uncountable extends Error {
  constructor(readonly rel: string) {
    super(`cannot list ${rel}`);
  }
}

/**
 * With `filter`, the pass's exclude rules: what they leave alone is not counted (docs/filters.md). `caps`: what
 * the replica is assumed to keep (a case-only rename there is no removal; nothing is probed here).
 `leaveAlone`: a name in the replica's top folder
 * the pass leaves alone (issue 14: the versions folder).
 */
export function countRemovals(
  source: string,
  replica: string,
  filter?: { walk: WalkFilter; root: DirFilter },
  caps?: ReplicaCaps,
  leaveAlone?: string,
): RemovalCount {
  const src = OpenFolder.openRoot(source);
  let dst: OpenFolder | undefined;
  try {
    dst = OpenFolder.openRoot(replica);
    return { removed: countDir('', src, dst, src.list(), caps, filter?.walk, filter?.root, leaveAlone) };
  } catch (error) {
    if (error instanceof Uncountable) return { uncountable: error.rel };
    throw error;
  } finally {
    src.close();
    dst?.close();
    unpinWorkingFolder();
  }
}

/** Run `use` on the folder at `path` (a handle path and a name), opened without following it and checked. */
function inFolder<T>(path: string, entry: Entry, use: (folder: OpenFolder) => T): T {
  const folder = OpenFolder.openNoFollow(path, entry);
  try {
    return use(folder);
  } finally {
    folder.close();
  }
}

/** What the pass would remove in one folder and below; `srcListing` is the source folder's. */
function countDir(
  rel: string,
  src: OpenFolder,
  dst: OpenFolder,
  srcListing: Listing,
  caps: ReplicaCaps | undefined,
  walk?: WalkFilter,
  filter?: DirFilter,
  leaveAlone?: string,
): number {
  const srcPath = src.io;
  const dstPath = dst.io;
  let taken: ReturnType<typeof listOrDenied>;
  try {
    taken = listOrDenied(dst);
  } catch {
    throw new Uncountable(rel || '.');
  }
  if (!taken.listing) throw new Uncountable(rel || '.');
  // As in the pass: the replica's copy of a source entry that could not be looked at stays.
  const keep = new Set(srcListing.issues.map((i) => i.name));
  let dstEntries = taken.listing.entries.filter((e) => !keep.has(e.name) && e.name !== leaveAlone);
  let srcEntries = srcListing.entries;
  if (walk && filter) ({ src: srcEntries, dst: dstEntries } = walk.listings(filter, srcPath, dstPath, srcEntries, dstEntries));

  let removed = 0;
  for (const step of planDirOn(srcEntries, dstEntries, { checksum: false, caps })) {
    try {
      switch (step.op) {
        case 'copy':
        case 'symlink':
        case 'mkdir':
          if (step.replace) removed += countRemoval(join(dstPath, step.src.name), join(rel, step.src.name), step.replace).count;
          break;
        case 'descend': {
          const name = step.src.name;
          // An unreadable (or swapped) source folder is left alone by the pass: nothing below it is removed.
          const { src: s, dst: d } = step;
          removed += inFolder(join(srcPath, name), s, (srcChild) => {
            const listing = srcChild.list();
            const inside = walk && filter && walk.child(filter, name, srcChild.io, listing.entries);
            return inFolder(join(dstPath, d.name), d, (dstChild) => countDir(join(rel, name), srcChild, dstChild, listing, caps, walk, inside));
          });
          break;
        }
        case 'remove': {
          const guard = walk && filter && walk.insideRemoved(filter, step.dst.name);
          removed += countRemoval(join(dstPath, step.dst.name), join(rel, step.dst.name), step.dst, guard).count;
          break;
        }
        default:
          break; // compare, meta, rename, skip, purge-temp: nothing a user would lose
      }
    } catch (error) {
      if (error instanceof Uncountable) throw error;
      // The pass would fail this entry, and remove nothing for it.
    }
  }
  return removed;
}

/**
 * What removing one replica entry would remove (remove.ts's rules): a folder goes with all its contents, and
 * stays (`whole` false) when something inside cannot be looked at. A leftover temporary is not counted.
 */
function countRemoval(path: string, rel: string, entry: Entry, guard?: RemovalGuard): { count: number; whole: boolean } {
  if (entry.type !== 'dir') return { count: isTempName(entry.name) ? 0 : 1, whole: true };
  return inFolder(path, entry, (folder) => countInside(folder, rel, guard));
}

function countInside(folder: OpenFolder, rel: string, guard?: RemovalGuard): { count: number; whole: boolean } {
  const path = folder.io;
  const taken = listOrDenied(folder);
  if (!taken.listing) throw new Uncountable(rel);
  let kept = taken.listing.issues.filter((i) => i.error.code !== 'ENOENT' || isUndecodableName(i.name)).length;
  let count = 0;
  for (const child of taken.listing.entries) {
    if (guard?.keeps(child, path)) {
      kept++;
      continue;
    }
    try {
      const inner = countRemoval(join(path, child.name), join(rel, child.name), child, guard?.inside(child.name));
      count += inner.count;
      if (!inner.whole) kept++;
    } catch (error) {
      if (error instanceof Uncountable) throw error;
      kept++;
    }
  }
  return kept > 0 ? { count, whole: false } : { count: count + 1, whole: true };
}
