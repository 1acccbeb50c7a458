/**
 * Removing replica entries: a folder with everything below it, each entry logged as it goes. The only place a
 * pass deletes a user's entry (a future versions store keeps them here instead of unlink/rmdir). Everything is
 * done by name in opened folders: a folder is opened from its parent without following links and checked
 * against its listing before anything in it is removed, so a folder swapped for a link (or another folder)
 * mid-pass never leads the removal anywhere else.
 */
import { join } from 'node:path';
import { listOrDenied, type OpenFolder } from './access.js';
import { ensureOwnerAccess } from './apply.js';
import type { Entry } from './entry.js';
import { kindOf, type PassReport } from './pass-report.js';

/**
 * Remove the entry `name` of the opened replica folder `parent` and, for a folder, everything below it (each one
 * logged); links are unlinked, never followed. Returns false when something inside had to stay (reported), so
 * the folder stays too.
 */
export async function removeEntry(
  report: PassReport,
  dryRun: boolean,
  parent: OpenFolder,
  name: string,
  rel: string,
  entry: Entry,
): Promise<boolean> {
  if (entry.type === 'dir') {
    await report.breathe();
    const folder = parent.openChild(name, entry);
    try {
      let { listing } = listOrDenied(folder);
      if (!listing) {
        if (dryRun) {
          // A real pass opens and empties it; a dry run cannot look inside without changing its mode.
          report.op('removed', 'dir', rel, { note: 'contents not listed' });
          return true;
        }
        ensureOwnerAccess(folder, entry.mode);
        listing = folder.list();
      }
      const children = listing.entries;
      // Entries that could not even be looked at (an undecodable name): reported, and their folder stays.
      let kept = report.replicaIssues(rel, listing);
      // Its children can only be unlinked from a writable folder (read-only folders are removed all the same).
      if (!dryRun && children.length > 0) ensureOwnerAccess(folder, entry.mode);
      for (const child of children) {
        try {
          if (!(await removeEntry(report, dryRun, folder, child.name, join(rel, child.name), child))) kept++;
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
    if (!dryRun) parent.rmdir(name);
  } else if (!dryRun) {
    parent.unlink(name);
  }
  report.removed(entry, rel);
  return true;
}
