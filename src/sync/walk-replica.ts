/**
 * The walk's replica folders (walk.ts, walk-apply.ts): listing one, opening it first when its owner cannot list
 * it, and seeing one moved or swapped away mid-pass, after which nothing more is done through its handle.
 */
import type { OpenFolder } from './access.js';
import { ensureOwnerAccess, setMode } from './apply.js';
import { listOrDenied, type Entry, type Listing } from './entry.js';
import { EntryChangedError } from './handles.js';
import type { PassReport } from './pass-report.js';
import type { WalkContext } from './walk-options.js';

/** Where an opened replica folder sits: its parent's handle and its name there (to see it swapped away). */
export interface Place {
  parent: OpenFolder;
  name: string;
}

/** Is the opened replica folder still the one at its place (not renamed away or swapped for a link)? */
export function stillThere(place: Place, folder: OpenFolder): boolean {
  return place.parent.holdsFolder(place.name, folder);
}

/**
 * List a replica folder. One its owner cannot list or search (mode 0, or r-- without x) is opened first,
 * except in a dry run, which says so and does not look inside. Undefined when it cannot be listed (reported).
 */
export function listReplica(
  { report, opts }: WalkContext,
  rel: string,
  folder: OpenFolder,
  mode: number,
): { entries: Entry[]; opened: boolean } | undefined {
  const issuesAt = rel === '.' ? '' : rel;
  const path = folder.io;
  let denied: unknown;
  try {
    const taken = listOrDenied(folder);
    if (taken.listing) {
      report.replicaIssues(issuesAt, taken.listing);
      return { entries: taken.listing.entries, opened: false };
    }
    denied = taken.denied;
  } catch (error) {
    report.handle('dir', rel, error);
    return undefined;
  }
  if (opts.dryRun) {
    // A real pass opens it; a dry run may not change its mode to look inside.
    report.skip('dir', rel, 'cannot be listed without opening it (a real pass does); not looked into');
    return undefined;
  }
  if (!ensureOwnerAccess(path, mode)) {
    report.handle('dir', rel, denied); // its owner can already list it: not ours to open
    return undefined;
  }
  let listing: Listing;
  try {
    listing = folder.list();
  } catch (error) {
    report.handle('dir', rel, error);
    setMode(path, mode);
    return undefined;
  }
  // Opened or not, what the listing could not look at is reported (an undecodable name inside stays).
  report.replicaIssues(issuesAt, listing);
  return { entries: listing.entries, opened: true };
}

/** Replica folders found moved or swapped away mid-pass (reported once; nothing more is done through them). */
export class MovedFolders {
  private readonly gone = new WeakSet<OpenFolder>();

  constructor(private readonly report: PassReport) {}

  /** `folder` was reported already (a new folder that could not be renamed into place: walk-build.ts). */
  reported(folder: OpenFolder): void {
    this.gone.add(folder);
  }

  lost(rel: string, folder: OpenFolder, real: string): void {
    if (this.gone.has(folder)) return;
    this.gone.add(folder);
    this.report.fail('dir', rel || '.', new EntryChangedError(real));
  }

  /**
   * May a replica folder's own metadata be set, after its contents? Not when it was moved out of its parent or
   * swapped away meanwhile (the handle would set them wherever it went): that is reported, once.
   */
  holds(at: Place | undefined, folder: OpenFolder, rel: string, real: string): boolean {
    if (this.gone.has(folder)) return false;
    if (!at || stillThere(at, folder)) return true;
    this.lost(rel, folder, real);
    return false;
  }
}
