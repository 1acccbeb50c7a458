/**
 * The walk's replica folders (walk.ts, walk-apply.ts): listing one, opening it first when its owner cannot list
 * it, and seeing one moved or swapped away mid-pass, after which nothing more is done through its handle.
 *
 * Moved away, the walk's handle goes with the folder: what is written through it then lands wherever the folder
 * went. So before each change (each file, in a batch) the pass checks that the folder is still in the folder it
 * was opened in (its `..`), and so for each folder above it that someone other than the pass's user could move
 * (`Place.above`): one they own, or one in a folder they can write (docs/security.md, "Moved folders").
 */
import { lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { accessMode, type OpenFolder } from './access.js';
import { ensureOwnerAccess, setMode } from './apply.js';
import { listOrDenied, type Entry, type Listing } from './entry.js';
import { whereNow } from './folder-guards.js';
import { EntryChangedError, type Identity } from './handles.js';
import type { PassReport } from './pass-report.js';
import type { WalkContext } from './walk-options.js';

/** A replica folder and the folder it was opened in, as the pass reports it (its path in the replica, its real path). */
export interface Link {
  folder: OpenFolder;
  parent: Identity;
  rel: string;
  real: string;
}

/** Where an opened replica folder sits: its parent's handle and its name there (to see it swapped away). */
export interface Place {
  readonly parent: OpenFolder;
  readonly name: string;
  /** The folders above it (its parent and up, below the replica's top) that someone else could move. */
  readonly above: readonly Link[];
  /** Could someone other than the pass's user move the folder itself out of its parent? */
  readonly movable: boolean;
  /**
   * The folder's path where it belongs (the replica top's real path and the names down to it, as bytes), when no
   * one else can move the top or a folder above it (`topFixed`): the quick check (`brokenLink`, folder-guards.ts).
   */
  readonly path?: Buffer | undefined;
}

/** The places of the walk's opened replica folders (the replica's top has none). */
const places = new WeakMap<OpenFolder, Place>();
/** The owner and mode of a replica folder that holds opened folders, read once through its handle. */
const owners = new WeakMap<OpenFolder, { uid: number; mode: number }>();

/**
 * Could a user other than the pass's (and root) move an entry owned by `uid` out of `folder`? Yes when the folder
 * is theirs (they can give themselves the right to), or when group or others may write in it (an ACL granting a
 * user writing shows in the group bits), unless it is sticky and the entry is the pass user's (then only its
 * owner or the folder's can). Where there are no user ids (Windows), no.
 */
function othersCanMove(folder: OpenFolder, uid: number | undefined): boolean {
  const me = process.geteuid?.();
  if (me === undefined) return false;
  let st = owners.get(folder);
  if (!st) {
    const got = folder.stat();
    st = { uid: Number(got.uid), mode: Number(got.mode) };
    owners.set(folder, st);
  }
  return movableIn(st, uid, me);
}

/** `othersCanMove` with the folder's owner and mode in hand. */
function movableIn(st: { uid: number; mode: number }, uid: number | undefined, me: number): boolean {
  if (st.uid !== me && st.uid !== 0) return true;
  if ((st.mode & 0o022) === 0) return false;
  return (st.mode & 0o1000) === 0 || uid !== me;
}

/** Replica tops (by real path) that no one else can move, nor any folder above them (read once a process). */
const fixedTops = new Map<string, boolean>();

/**
 * Can no one but the pass's user (and root) move the replica's top `real`, nor any folder above it up to `/`?
 * Then a folder found at its path below it is where it belongs (the quick check). Permissions only their owners
 * can change; a folder above that someone else owns counts as movable. Any doubt (an error, no user ids): no.
 */
function topFixed(real: string): boolean {
  let fixed = fixedTops.get(real);
  if (fixed !== undefined) return fixed;
  const me = process.geteuid?.();
  fixed = me !== undefined && real.startsWith('/');
  try {
    for (let p = real; fixed && p !== '/'; p = dirname(p)) {
      const up = lstatSync(dirname(p));
      fixed = !movableIn({ uid: up.uid, mode: up.mode }, lstatSync(p).uid, me as number);
    }
  } catch {
    fixed = false;
  }
  fixedTops.set(real, fixed);
  return fixed;
}

/** A place's folders above, movability and path: worked out on first use (a no-op pass never asks). */
class PlaceIn implements Place {
  private got: Pick<Place, 'above' | 'movable' | 'path'> | undefined;

  constructor(
    readonly parent: OpenFolder,
    readonly name: string,
    /** The parent's place (undefined: the parent is the replica's top), its path and the child's listed owner. */
    private readonly up: Place | undefined,
    private readonly rel: string,
    private readonly real: string,
    private readonly uid: number | undefined,
  ) {}

  get above(): readonly Link[] {
    return this.resolved().above;
  }

  get movable(): boolean {
    return this.resolved().movable;
  }

  get path(): Buffer | undefined {
    return this.resolved().path;
  }

  private resolved(): Pick<Place, 'above' | 'movable' | 'path'> {
    if (this.got) return this.got;
    const { up, parent, rel, real } = this;
    const above = up?.movable ? [...up.above, { folder: parent, parent: up.parent, rel, real }] : (up?.above ?? []);
    const movable = othersCanMove(parent, this.uid ?? process.geteuid?.());
    // Below the top: its path is known, and trusted when nothing up to `/` is movable by others.
    const known = (up ? up.path !== undefined : topFixed(real)) && accessMode() === 'fd';
    this.got = { above, movable, path: known ? Buffer.from(join(real, this.name)) : undefined };
    return this.got;
  }
}

/**
 * The place of `child`, opened as `name` in the replica folder `parent` (`rel` and `real`: the parent's); `uid` is
 * the child's owner as listed (undefined for one the pass just made: its own). Kept with the child's handle; what
 * it needs to read (the parent's mode, the top's) is read on first use.
 */
export function placeIn(parent: OpenFolder, name: string, child: OpenFolder, uid: number | undefined, rel: string, real: string): Place {
  const place = new PlaceIn(parent, name, places.get(parent), rel, real, uid);
  places.set(child, place);
  return place;
}

/** The place the walk opened `folder` in, if it has one (not the replica's top). */
export const placeOf = (folder: OpenFolder): Place | undefined => places.get(folder);

/**
 * What a write into `folder` checks (`own`: its own `..`, or also that its name in the parent still holds it;
 * 'skip': only the folders above it): the first link found broken ('self' for its own), or undefined. Where its
 * path is known (`Place.path`), the folder found at that very path answers for all (folder-guards.ts).
 */
export function brokenLink(place: Place, folder: OpenFolder, own: 'up' | 'name' | 'skip' = 'up'): Link | 'self' | undefined {
  const quick = own !== 'name' && place.above.length > 0 && place.path;
  if (quick && whereNow(folder.fd)?.equals(quick)) return undefined;
  if (own === 'up' && !folder.stillIn(place.parent)) return 'self';
  if (own === 'name' && !stillThere(place, folder)) return 'self';
  for (const link of place.above) if (!link.folder.stillIn(link.parent)) return link;
  return undefined;
}

/**
 * The same checks for a copy helper's thread (folder-guards.ts): `fd:dev:ino` per folder, each the folder's
 * handle and the identity its `..` must have (`own`: the folder's own check is included), and the folder's path
 * where it is known (`Place.path`). Empty when there is nothing to check.
 */
export function guardsOf(place: Place | undefined, folder: OpenFolder, own: boolean): { guards: string; path: string } {
  if (!place) return { guards: '', path: '' };
  const links = own ? [{ folder, parent: place.parent }, ...place.above] : place.above;
  const guards = links.map((l) => `${l.folder.fd}:${l.parent.dev}:${l.parent.ino}`).join(',');
  return { guards, path: place.above.length > 0 && place.path ? place.path.toString() : '' };
}

/** Is the opened replica folder still the one at its place (not renamed away or swapped for a link)? */
export function stillThere(place: Pick<Place, 'parent' | 'name'>, folder: OpenFolder): boolean {
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

  /**
   * `folder` (at `rel`, `real`) or, with `link`, a folder above it was found moved or swapped away: that one is
   * reported, once, and nothing more is written into `folder`.
   */
  lost(rel: string, folder: OpenFolder, real: string, link?: Link | 'self'): void {
    if (link && link !== 'self') {
      this.gone.add(folder);
      ({ rel, folder, real } = link);
    }
    if (this.gone.has(folder)) return;
    this.gone.add(folder);
    const error = new EntryChangedError(real, 'it was moved or replaced while the pass ran', 'nothing more was written into it or below it');
    this.report.fail('dir', rel || '.', error);
  }

  /** Before a change in `folder`: is it still in its place, and each folder above it that others could move (else reported)? */
  holdsBelow(place: Place | undefined, folder: OpenFolder, rel: string, real: string): boolean {
    const link = place && brokenLink(place, folder);
    if (!link) return true;
    this.lost(rel, folder, real, link);
    return false;
  }

  /**
   * For a removal below `folder` (at `rel`, `real`; remove.ts `holds`): a check before each entry it removes,
   * where someone other than the pass's user could move the folder or one above it; elsewhere none.
   */
  whileRemoving(folder: OpenFolder | undefined, rel: string, real: string): (() => boolean) | undefined {
    const at = folder && places.get(folder);
    if (!folder || !at || (!at.movable && at.above.length === 0)) return undefined;
    return () => this.holdsBelow(at, folder, rel, real);
  }

  /**
   * May a replica folder's own metadata be set, after its contents? Not when it was moved out of its parent or
   * swapped away meanwhile (the handle would set them wherever it went), nor a folder above it: that is
   * reported, once.
   */
  holds(at: Place | undefined, folder: OpenFolder, rel: string, real: string): boolean {
    if (this.gone.has(folder)) return false;
    const link = at && brokenLink(at, folder, 'name');
    if (!link) return true;
    this.lost(rel, folder, real, link);
    return false;
  }
}
