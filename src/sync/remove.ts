/**
 * Removing replica entries: a folder with everything below it, each entry logged as it goes. The only place a
 * pass deletes a user's entry (a future versions store keeps them here instead of `removeNonDir`/`removeEmptyDir`).
 */
import { join } from 'node:path';
import { ensureOwnerAccess, removeEmptyDir, removeNonDir } from './apply.js';
import { listDir, listOrDenied, type Entry } from './entry.js';
import { kindOf, type PassReport } from './pass-report.js';

/**
 * Remove a replica entry and, for a folder, everything below it (each one logged); links are unlinked, never
 * followed. Returns false when something inside had to stay (reported), so the folder stays too.
 */
export async function removeEntry(report: PassReport, dryRun: boolean, path: string, rel: string, entry: Entry): Promise<boolean> {
  if (entry.type === 'dir') {
    await report.breathe();
    let { listing } = listOrDenied(path);
    if (!listing) {
      if (dryRun) {
        // A real pass opens and empties it; a dry run cannot look inside without changing its mode.
        report.op('removed', 'dir', rel, { note: 'contents not listed' });
        return true;
      }
      ensureOwnerAccess(path, entry.mode);
      listing = listDir(path);
    }
    const children = listing.entries;
    // Entries that could not even be looked at (a path past PATH_MAX): reported, and their folder stays.
    let kept = report.replicaIssues(rel, listing);
    // Its children can only be unlinked from a writable folder (read-only folders are removed all the same).
    if (!dryRun && children.length > 0) ensureOwnerAccess(path, entry.mode);
    for (const child of children) {
      try {
        if (!(await removeEntry(report, dryRun, join(path, child.name), join(rel, child.name), child))) kept++;
      } catch (error) {
        report.handle(kindOf(child), join(rel, child.name), error);
        kept++;
      }
    }
    // Something inside stays (each one reported): the folder stays too, without a "not empty" line per level.
    if (kept > 0) return false;
    if (!dryRun) removeEmptyDir(path);
  } else if (!dryRun) {
    removeNonDir(path);
  }
  report.removed(entry, rel);
  return true;
}
