/**
 * `--max-delete`'s question, answered before the pass changes anything: how many replica entries would it
 * remove? Read-only, with the same listings and the same pure planner as the pass (walk.ts), so the count
 * follows the plan's rules. A replica folder it cannot list without opening it (which would be a change) makes
 * the count impossible: that folder is named instead.
 */
import { join } from 'node:path';
import { listOrDenied, type OpenFolder } from './access.js';
import { isUndecodableName, type Entry, type Listing } from './entry.js';
import { planDir } from './plan.js';
import { isTempName } from './temp.js';

export type RemovalCount = { removed: number; uncountable?: undefined } | { removed?: undefined; uncountable: string };

/** A replica folder that cannot be listed as it is: nothing below it can be counted. */
class Uncountable extends Error {
  constructor(readonly rel: string) {
    super(`cannot list ${rel}`);
  }
}

/** Count through the pass's opened roots (read-only: nothing is opened up, nothing followed). */
export function countRemovals(source: OpenFolder, replica: OpenFolder): RemovalCount {
  try {
    return { removed: countDir('', source, replica, source.list()) };
  } catch (error) {
    if (error instanceof Uncountable) return { uncountable: error.rel };
    throw error;
  }
}

/** What the pass would remove in one folder and below; `srcListing` is the source folder's. */
function countDir(rel: string, src: OpenFolder, dst: OpenFolder, srcListing: Listing): number {
  let taken: ReturnType<typeof listOrDenied>;
  try {
    taken = listOrDenied(dst);
  } catch {
    throw new Uncountable(rel || '.');
  }
  if (!taken.listing) throw new Uncountable(rel || '.');
  // As in the pass: the replica's copy of a source entry that could not be looked at stays.
  const keep = new Set(srcListing.issues.map((i) => i.name));
  const dstEntries = taken.listing.entries.filter((e) => !keep.has(e.name));

  let removed = 0;
  for (const step of planDir(srcListing.entries, dstEntries, { checksum: false })) {
    try {
      switch (step.op) {
        case 'copy':
        case 'symlink':
        case 'mkdir':
          if (step.replace) removed += countRemoval(dst, join(rel, step.src.name), step.replace).count;
          break;
        case 'descend': {
          const name = step.src.name;
          // An unreadable (or swapped) source folder is left alone by the pass: nothing below it is removed.
          const srcChild = src.openChild(name, step.src);
          try {
            const listing = srcChild.list();
            const dstChild = dst.openChild(name, step.dst);
            try {
              removed += countDir(join(rel, name), srcChild, dstChild, listing);
            } finally {
              dstChild.close();
            }
          } finally {
            srcChild.close();
          }
          break;
        }
        case 'remove':
          removed += countRemoval(dst, join(rel, step.dst.name), step.dst).count;
          break;
        default:
          break; // compare, meta, skip, purge-temp: nothing a user would lose
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
function countRemoval(parent: OpenFolder, rel: string, entry: Entry): { count: number; whole: boolean } {
  if (entry.type !== 'dir') return { count: isTempName(entry.name) ? 0 : 1, whole: true };
  const folder = parent.openChild(entry.name, entry);
  try {
    return countInside(folder, rel);
  } finally {
    folder.close();
  }
}

function countInside(folder: OpenFolder, rel: string): { count: number; whole: boolean } {
  const taken = listOrDenied(folder);
  if (!taken.listing) throw new Uncountable(rel);
  let kept = taken.listing.issues.filter((i) => i.error.code !== 'ENOENT' || isUndecodableName(i.name)).length;
  let count = 0;
  for (const child of taken.listing.entries) {
    try {
      const inner = countRemoval(folder, join(rel, child.name), child);
      count += inner.count;
      if (!inner.whole) kept++;
    } catch (error) {
      if (error instanceof Uncountable) throw error;
      kept++;
    }
  }
  return kept > 0 ? { count, whole: false } : { count: count + 1, whole: true };
}
