/**
 * What a pass's walk is told (`WalkOptions`), and the few rules read off it that every part of the walk applies
 * alike (walk.ts, walk-apply.ts, walk-put.ts, walk-replica.ts): owners mirrored or not, the metadata that
 * differ, how removals are kept.
 */
import type { KeptAction, VersionStore } from '../versions/store.js';
import type { ReplicaCaps } from './capabilities.js';
import type { ReplicaCapsBook } from './capabilities-probe.js';
import type { Entry } from './entry.js';
import type { PassReport } from './pass-report.js';
import { metaDiff } from './plan.js';
import type { Keeping } from './remove.js';
import type { WalkFilter } from './walk-filter.js';

export interface WalkOptions {
  checksum: boolean;
  dryRun: boolean;
  /** Exclude rules (docs/filters.md): each folder's listings are filtered before planning. */
  filter?: WalkFilter;
  /** issue 14: --versions: what the pass removes or overwrites is kept there instead. */
  versions?: VersionStore;
  /** issue 14: the versions folder's name when it sits in the replica's top folder: left out of the plan. */
  leaveAlone?: string;
  /** What the replica keeps, per device below it (measured before the first change on each). */
  book: ReplicaCapsBook;
  /** The source keeps local time (FAT: a camera card): a shift of exactly one hour is no change. */
  srcLocalTime: boolean;
  /** The pass runs as root: owners are mirrored wherever the replica keeps them (rsync -a). */
  root?: boolean;
}

/** What the parts of the walk are handed: the pass's report and the walk's options (walk.ts's MirrorWalk is one). */
export interface WalkContext {
  readonly report: PassReport;
  readonly opts: WalkOptions;
}

/** Owners are mirrored in a folder with these capabilities: root, and a file system that keeps them. */
export function mirrorsOwners(opts: WalkOptions, caps: ReplicaCaps): boolean {
  return (opts.root ?? false) && caps.owners;
}

/** A file's or folder's metadata that differ, as far as `caps` keeps them (and no times where it holds none). */
export function metaDiffOn(opts: WalkOptions, src: Entry, dst: Entry, caps: ReplicaCaps, path?: string): string[] {
  const diff = metaDiff(src, dst, { caps, srcLocalTime: opts.srcLocalTime, owners: mirrorsOwners(opts, caps) });
  return path !== undefined && !opts.book.timesKept(path) ? diff.filter((d) => d !== 'mtime') : diff;
}

/** issue 14: how removals are kept (undefined without --versions). */
export function versionsKeeping(opts: WalkOptions, action: KeptAction): Keeping | undefined {
  return opts.versions && { store: opts.versions, action };
}
