/**
 * Removing replica entries: a folder with everything below it, each entry logged as it goes. The only place a
 * pass deletes a user's entry (a versions store keeps them here instead of `removeNonDir`/`removeEmptyDir`).
 * A folder to empty is opened without following a link and checked against its listing, and its entries are
 * named through that handle (access.ts `io`): a folder swapped for a link (or another folder) mid-pass never
 * leads the removal outside the replica.
 */
import { basename, dirname, join } from 'node:path';
import type { KeptAction, VersionStore } from '../versions/store.js';
import { OpenFolder } from './access.js';
import { ensureOwnerAccess, removeEmptyDir, removeNonDir, setMode } from './apply.js';
import { listOrDenied, type Entry } from './entry.js';
import type { RemovalGuard } from './walk-filter.js';
import { kindOf, type PassReport } from './pass-report.js';
import { isTempName } from './temp.js';

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
  /** issue 14: --versions: the entry is moved into the pass folder instead (a folder whole, unless an exclude keeps something inside). */
  keeping?: Keeping,
  /**
   * Asked before each folder entered and each entry removed below: false when the replica folder the removal
   * is in, or a folder above it, was moved away meanwhile (walk-replica.ts; reported there): nothing more goes.
   */
  holds?: () => boolean,
): Promise<boolean> {
  if (keeping && !(entry.type !== 'dir' && isTempName(entry.name)) && !(entry.type === 'dir' && guard && guardedInside(guard, path))) {
    return keepEntry(report, keeping, path, rel, entry);
  }
  if (entry.type === 'dir') {
    await report.breathe();
    if (holds && !holds()) return false;
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
          if (holds && !holds()) return false;
          const at = join(inside, child.name);
          if (!(await removeEntry(report, dryRun, at, join(rel, child.name), child, guard?.inside(child.name), keeping, holds))) kept++;
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
    removeNonDir(path, entry);
  }
  // issue 14: a folder emptied entry by entry (its contents kept one by one) is kept as the folder holding them.
  report.removed(entry, rel, keeping && entry.type === 'dir' ? { versions: keeping.store.passName, keptAs: keeping.store.keptPath(rel) } : {});
  return true;
}

// issue 14: --versions. What a pass takes out of the replica is moved into the pass folder instead of deleted.

/** Where removals go instead of being deleted, and why they happen. */
export interface Keeping {
  store: VersionStore;
  action: KeptAction;
}

/**
 * Move a replica entry (a folder whole, in one rename) into this pass's versions folder, then log it, and for a
 * folder everything inside it, as removed and kept (children first, as a deletion would). A dry run moves nothing.
 */
function keepEntry(report: PassReport, { store, action }: Keeping, path: string, rel: string, entry: Entry): boolean {
  // Moving a folder to another parent rewrites its "..": its owner must be able to write it for that moment.
  const opened = !store.dryRun && entry.type === 'dir' && ensureOwnerAccess(path, entry.mode);
  let pass: string;
  try {
    pass = store.keep(dirname(path), basename(path), { path: rel, kind: kindOf(entry), action }, false);
  } catch (error) {
    if (opened) setMode(path, entry.mode);
    throw error;
  }
  const keptAs = store.keptPath(rel);
  if (opened) setMode(keptAs, entry.mode);
  const listed = entry.type !== 'dir' || logKeptTree(report, store.dryRun ? path : keptAs, rel, pass, keptAs);
  report.removed(entry, rel, { versions: pass, keptAs, ...(!listed && { note: 'contents not listed' }) });
  return true;
}

/** True when an exclude keeps something somewhere inside the replica folder `path` (then it is not moved whole). */
function guardedInside(guard: RemovalGuard, path: string): boolean {
  let taken: ReturnType<typeof listOrDenied>;
  try {
    taken = listOrDenied(path);
  } catch {
    return false;
  }
  return (taken.listing?.entries ?? []).some(
    (child) => guard.keeps(child, path) || (child.type === 'dir' && guardedInside(guard.inside(child.name), join(path, child.name))),
  );
}

/** Log the entries inside a kept folder (where it is now); false when it cannot be listed as it is. */
function logKeptTree(report: PassReport, at: string, rel: string, pass: string, keptAs: string): boolean {
  let taken: ReturnType<typeof listOrDenied>;
  try {
    taken = listOrDenied(at);
  } catch {
    return false;
  }
  if (!taken.listing) return false;
  for (const child of taken.listing.entries) {
    const childRel = join(rel, child.name);
    const childAs = join(keptAs, child.name);
    const listed = child.type !== 'dir' || logKeptTree(report, join(at, child.name), childRel, pass, childAs);
    report.removed(child, childRel, { versions: pass, keptAs: childAs, ...(!listed && { note: 'contents not listed' }) });
  }
  return true;
}
