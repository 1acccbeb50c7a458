/**
 * Removing replica entries: a folder with everything below it, each entry logged as it goes. The only place a
 * pass deletes a user's entry (a future versions store keeps them here instead of `removeNonDir`/`removeEmptyDir`).
 * A folder is opened without following a link and checked against its listing before anything in it is
 * removed, and its entries are named through that handle (access.ts): a folder swapped for a link (or another
 * folder) mid-pass never leads the removal outside the replica.
 */
import { join } from 'node:path';
import { listOrDenied, OpenFolder } from './access.js';
import { ensureOwnerAccess, removeEmptyDir, removeNonDir } from './apply.js';
import type { Entry } from './entry.js';
import type { RemovalGuard } from './filter.js';
import { kindOf, type PassReport } from './pass-report.js';

/**
 * Remove a replica entry and, for a folder, everything below it (each one logged); links are unlinked, never
 * followed. Returns false when something inside had to stay (reported), so the folder stays too.
 */
export async function removeEntry(
  report: PassReport,
  dryRun: boolean,
  path: string,
  rel: string,
  entry: Entry,
  /** Exclude rules: what inside a removed folder matches one stays (docs/filters.md). */
  guard?: RemovalGuard,
): Promise<boolean> {
  if (entry.type === 'dir') {
    await report.breathe();
    const folder = OpenFolder.openNoFollow(path, entry);
    try {
      const inside = folder.io;
      let { listing } = listOrDenied(folder);
      if (!listing) {
        if (dryRun) {
          // A real pass opens and empties it; a dry run cannot look inside without changing its mode.
          report.op('removed', 'dir', rel, { note: 'contents not listed' });
          return true;
        }
        ensureOwnerAccess(inside, entry.mode);
        listing = folder.list();
      }
      const children = listing.entries;
      // Entries that could not even be looked at (an undecodable name): reported, and their folder stays.
      let kept = report.replicaIssues(rel, listing);
      // Its children can only be unlinked from a writable folder (read-only folders are removed all the same).
      if (!dryRun && children.length > 0) ensureOwnerAccess(inside, entry.mode);
      for (const child of children) {
        if (guard?.keeps(child, inside)) {
          kept++;
          continue;
        }
        try {
          if (!(await removeEntry(report, dryRun, join(inside, child.name), join(rel, child.name), child, guard?.inside(child.name)))) kept++;
        } catch (error) {
          report.handle(kindOf(child), join(rel, child.name), error);
          kept++;
        }
      }
      // Something inside stays (each one reported): the folder stays too, without a "not empty" line per level.
      if (kept > 0) return false;
    } finally {
      folder.close();
    }
    if (!dryRun) removeEmptyDir(path);
  } else if (!dryRun) {
    removeNonDir(path);
  }
  report.removed(entry, rel);
  return true;
}
