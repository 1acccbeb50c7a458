/**
 * `--max-delete`'s question, answered before the pass changes anything: how many replica entries would it
 * remove? Read-only, with the same listings and the same pure planner as the pass (walk.ts), so the count
 * follows the plan's rules. A replica folder it cannot list without opening it (which would be a change) makes
 * the count impossible: that folder is named instead.
 */
import { join } from 'node:path';
import { isUndecodableName, listDir, listOrDenied, type Entry, type Listing } from './entry.js';
import type { ReplicaCaps } from './capabilities.js';
import type { DirFilter, RemovalGuard, WalkFilter } from './filter.js';
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
  try {
    return { removed: countDir('', source, replica, listDir(source), caps, filter?.walk, filter?.root, leaveAlone) };
  } catch (error) {
    if (error instanceof Uncountable) return { uncountable: error.rel };
    throw error;
  }
}

/** What the pass would remove in one folder and below; `srcListing` is the source folder's. */
function countDir(
  rel: string,
  srcPath: string,
  dstPath: string,
  srcListing: Listing,
  caps: ReplicaCaps | undefined,
  walk?: WalkFilter,
  filter?: DirFilter,
  leaveAlone?: string,
): number {
  let taken: ReturnType<typeof listOrDenied>;
  try {
    taken = listOrDenied(dstPath);
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
          // An unreadable source folder is left alone by the pass: nothing below it is removed.
          const listing = listDir(join(srcPath, name));
          const inside = walk && filter && walk.child(filter, name, join(srcPath, name), listing.entries);
          removed += countDir(join(rel, name), join(srcPath, name), join(dstPath, name), listing, caps, walk, inside);
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
  const taken = listOrDenied(path);
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
