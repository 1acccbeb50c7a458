/**
 * The walk of one pass: a folder at a time, both sides, source order. The seams later work builds on:
 * - Listing: `mirrorDir` has the source folder's listing (its caller took it) and takes the replica folder's
 *   (`listReplica`), then hands both to the pure planner `planDir`. A filter drops excluded names from both
 *   listings right there, before planning, so they are neither copied nor removed.
 * - Deciding: `planDir` gets the options it decides with (`PlanOptions`); what the replica can hold (its
 *   capabilities) is passed in the same way, never discovered here by failing.
 * - Acting: `apply` is the one switch over planned steps; apply.ts does the writes, remove.ts every removal
 *   (where a versions store would keep entries instead of deleting them). A dry run goes through the same
 *   switch minus the writes. `--max-delete` counts with the same listings and planner (count-removals.ts).
 * - Access (issue 11): both trees are walked through opened folders (access.ts). Each folder is opened from its
 *   parent's handle without following a link and checked against its listing, listed through its handle, and
 *   everything below is named through it: the paths handed to apply.ts, remove.ts, the filter and --checksum
 *   are `/proc/self/fd/<fd>/<name>` on Linux (`OpenFolder.io`), so only the last name is ever resolved. The
 *   capabilities book keys folders by their real paths (`dstReal`), which only choose the rules to compare by.
 */
import { dirname, join } from 'node:path';
import type { KeptAction, VersionStore } from '../versions/store.js';
import { accessMode, OpenFolder } from './access.js';
import { EntryChangedError, sameIdentity } from './handles.js';
import { ensureOwnerAccess, installIn, makeDir, removeNonDir, removeProbeLeftover, renameInPlace, setMeta, setMode, symlinkTempIn } from './apply.js';
import { copyWith, discardIn, folderEnds, SourceChangedError, type CopyOptions } from './copy-file.js';
import { compareHere, fsReader, RANGE, type FileReader, type Verdict } from './compare.js';
import { compareFiles } from './compare-files.js';
import { listOrDenied, type Entry, type Listing } from './entry.js';
import type { DirFilter } from './pass-filter.js';
import type { WalkFilter } from './walk-filter.js';
import { kindOf, type Kept, type PassReport } from './pass-report.js';
import { isProbeName, type ReplicaCaps } from './capabilities.js';
import type { ReplicaCapsBook } from './capabilities-probe.js';
import { afterCompare, metaDiff, mirroredMode, planDirOn, type PlannedStep, type Step } from './plan.js';
import { releaseBlocks } from './free-later.js';
import { removeEntry, type Keeping } from './remove.js';
import { CopyRuns, plainRun, type CopyStep } from './walk-copy.js';
import type { LookAhead } from './lookahead.js';

type CompareStep = Extract<Step, { op: 'compare' }>;

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

/** A replica entry's times as they must be set to read back the same (undoing a driver's read shift). */
function unshifted(entry: Entry, caps: ReplicaCaps): Entry {
  const shift = caps.mtimeOffsetMs;
  return shift === 0 ? entry : { ...entry, mtimeMs: entry.mtimeMs - shift, atimeMs: entry.atimeMs - shift };
}

/** Where an opened replica folder sits: its parent's handle and its name there (to see it swapped away). */
interface Place {
  parent: OpenFolder;
  name: string;
}

/** Is the opened replica folder still the one at its place (not renamed away or swapped for a link)? */
function stillThere(place: Place, folder: OpenFolder): boolean {
  try {
    const st = place.parent.lstat(place.name);
    return st.isDirectory() && sameIdentity(st, folder);
  } catch {
    return false;
  }
}

/** One mirror pass over a tree: walk both sides a folder at a time, plan each folder, apply the plan. */
export class MirrorWalk {
  /** Runs of new files copied on both cores (walk-copy.ts); `copies.batches` counts them for the pass's debug line. */
  readonly copies: CopyRuns;
  /** --checksum: files compared on this thread through its opened folders (compareAll; the pass's debug line). */
  comparedHere = 0;
  /** issue 16: subtrees a second thread found already mirrored (lookahead.ts), when the pass has one. */
  lookahead?: Pick<LookAhead, 'clean' | 'entering' | 'busy'>;

  constructor(
    private readonly report: PassReport,
    private readonly opts: WalkOptions,
  ) {
    this.copies = new CopyRuns({
      report,
      copy: (from, into, src, rel, caps) => this.copyWithRetry(from, into, src, rel, caps),
      apply: (step, rel, srcFolder, dstFolder, real, caps, filter) => this.apply(step, rel, srcFolder, dstFolder, real, caps, filter),
      lost: (rel, folder, real) => this.lost(rel, folder, real),
      owners: (caps) => this.owners(caps),
    });
  }

  /**
   * Mirror one folder whose source listing is already taken. `dst` is the replica folder's entry as listed
   * before any change (undefined when it does not exist yet, only possible in a dry run); `fresh` when this
   * pass just created it (empty and owner-writable); `filter` the rules in force in this folder, if any.
   * Returns true when anything inside was changed.
   */
  async mirrorDir(
    rel: string,
    srcFolder: OpenFolder,
    dstFolder: OpenFolder | undefined,
    srcListing: Listing,
    dst: Entry | undefined,
    fresh: boolean,
    filter: DirFilter | undefined,
    caps: ReplicaCaps,
    /** The replica folder's real path (capabilities, and where it would be when it does not exist: a dry run). */
    dstReal: string,
    /** The source folder's real path: its ignore files are read and named by it (patterns, not mirrored data). */
    srcReal: string,
    place?: Place,
  ): Promise<boolean> {
    const srcPath = srcFolder.io;
    const dstPath = dstFolder?.io ?? dstReal;
    await this.report.breathe();
    const keep = this.report.sourceIssues(rel, srcListing);
    let srcEntries = srcListing.entries;

    let dstEntries: Entry[] = [];
    let dstMode = dst?.mode ?? 0o700;
    let opened = fresh;
    if (dst && dstFolder && !fresh) {
      const listed = this.listReplica(rel || '.', dstFolder, dstMode);
      if (!listed) return false;
      dstEntries = listed.entries;
      if (listed.opened) {
        opened = true;
        dstMode |= 0o700;
      }
      if (keep.size) dstEntries = dstEntries.filter((e) => !keep.has(e.name));
      // issue 14: the versions folder in the replica's top folder is neither mirrored into nor removed.
      if (rel === '' && this.opts.leaveAlone !== undefined) dstEntries = dstEntries.filter((e) => e.name !== this.opts.leaveAlone);
    }
    // Excluded names leave both listings here: neither copied nor removed (nor walked, for folders).
    if (filter && this.opts.filter)
      ({ src: srcEntries, dst: dstEntries } = this.opts.filter.listings(filter, srcPath, dstPath, srcEntries, dstEntries));

    this.report.stats.checked += srcEntries.length;
    let changed = false;
    const steps = planDirOn(srcEntries, dstEntries, {
      checksum: this.opts.checksum,
      caps,
      srcLocalTime: this.opts.srcLocalTime,
      owners: this.owners(caps),
    });
    // --checksum: the folder's content checks run first, as one batch both cores share (compare.ts).
    const verdicts = await this.compareAll(steps, srcFolder, dstFolder, dstPath);
    for (let k = 0; k < steps.length; k++) {
      const planned = steps[k] as PlannedStep;
      await this.report.breathe();
      // A run of new files: copied on both cores (copy-batch.ts), logged in plan order all the same.
      const run = plainRun(steps, k, this.opts.dryRun ? undefined : dstFolder, caps);
      if (run > 0 && dstFolder) {
        dstFolder.workIn();
        if (place && !dstFolder.stillIn(place.parent)) {
          this.lost(rel, dstFolder, dstReal);
          return false;
        }
        if (!opened) {
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        const stays = await this.copies.run(
          steps.slice(k, k + run) as CopyStep[],
          rel,
          srcFolder,
          dstFolder,
          place,
          caps,
          { src: srcReal, dst: dstReal },
          filter,
        );
        if (!stays) return false; // moved out of its parent meanwhile: reported; its metadata is not touched
        changed = true;
        k += run - 1;
        continue;
      }
      let step: PlannedStep | undefined = planned;
      const entry = 'src' in step ? step.src : step.dst;
      try {
        // Contents decide first, so a re-copy below opens a read-only folder like any other change.
        if (step.op === 'compare') step = this.compared(step, verdicts.get(step), caps);
        if (!step) continue;
        const acts = !this.opts.dryRun && step.op !== 'skip' && step.op !== 'descend';
        // The calls that follow name entries of this replica folder: by bare names where the layer can (access.ts).
        if (acts && dstFolder) dstFolder.workIn();
        if (acts && place && dstFolder && !dstFolder.stillIn(place.parent)) {
          // Moved out of its parent: writes would still land in the folder that was opened, wherever it went, so
          // nothing more is written; it is reported instead. (`..` is one bare lookup per step; that its *name*
          // still leads to it is checked once, after the folder's steps, below.)
          this.lost(rel, dstFolder, dstReal);
          return false; // and its metadata is not touched either
        }
        if (!this.opts.dryRun && !opened && step.op !== 'descend' && step.op !== 'skip' && step.op !== 'meta') {
          // First change in this folder: make sure its owner can write it (read-only folders are still mirrored).
          if (dst && ensureOwnerAccess(dstPath, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        if (await this.apply(step, rel, srcFolder, dstFolder, { src: srcReal, dst: dstReal }, caps, filter)) changed = true;
      } catch (error) {
        this.report.handle(kindOf(entry), join(rel, entry.name), error);
        if (step && step.op !== 'descend' && step.op !== 'skip') changed = true;
      }
    }
    if ((changed || opened) && place && dstFolder && !this.opts.dryRun && !stillThere(place, dstFolder)) {
      // Renamed within its parent (and something else put at its name) while its steps ran: what was written
      // went into the folder that was opened, still inside the replica; the name is reported as changed.
      this.lost(rel, dstFolder, dstReal);
      return false; // and its metadata is not touched
    }
    // Opening the folder changed its mode: the caller must restore it even if nothing else changed.
    return changed || opened;
  }

  /**
   * List a replica folder. One its owner cannot list or search (mode 0, or r-- without x) is opened first,
   * except in a dry run, which says so and does not look inside. Undefined when it cannot be listed (reported).
   */
  private listReplica(rel: string, folder: OpenFolder, mode: number): { entries: Entry[]; opened: boolean } | undefined {
    const issuesAt = rel === '.' ? '' : rel;
    const path = folder.io;
    let denied: unknown;
    try {
      const taken = listOrDenied(folder);
      if (taken.listing) {
        this.report.replicaIssues(issuesAt, taken.listing);
        return { entries: taken.listing.entries, opened: false };
      }
      denied = taken.denied;
    } catch (error) {
      this.report.handle('dir', rel, error);
      return undefined;
    }
    if (this.opts.dryRun) {
      // A real pass opens it; a dry run may not change its mode to look inside.
      this.report.skip('dir', rel, 'cannot be listed without opening it (a real pass does); not looked into');
      return undefined;
    }
    if (!ensureOwnerAccess(path, mode)) {
      this.report.handle('dir', rel, denied); // its owner can already list it: not ours to open
      return undefined;
    }
    let listing: Listing;
    try {
      listing = folder.list();
    } catch (error) {
      this.report.handle('dir', rel, error);
      setMode(path, mode);
      return undefined;
    }
    // Opened or not, what the listing could not look at is reported (an undecodable name inside stays).
    this.report.replicaIssues(issuesAt, listing);
    return { entries: listing.entries, opened: true };
  }

  /** --checksum: compare the contents of a folder's `compare` steps (an unreadable replica copy counts as different). */
  private async compareAll(
    steps: readonly PlannedStep[],
    srcFolder: OpenFolder,
    dstFolder: OpenFolder | undefined,
    dstDir: string,
  ): Promise<Map<PlannedStep, Verdict>> {
    const checks = steps.filter((s): s is CompareStep => s.op === 'compare');
    if (checks.length === 0) return new Map();
    // While the look-ahead thread runs it has the second core: files of one range each are compared on this
    // thread alone (measured: 1.69 s instead of 1.85 s for the 100k-file tree); larger ones still on both.
    const alone = this.lookahead?.busy() === true && checks.every((s) => s.src.size <= RANGE);
    let verdicts: Verdict[];
    if (alone && dstFolder && accessMode() === 'fd') {
      // Alone, and synchronously: each file opened by name through the folders the walk opened, the replica's
      // as a bare name in the working folder pinned to it (a third of the cost of a /proc/self/fd path).
      dstFolder.workIn();
      const reader: FileReader = { ...fsReader, open: (name, side) => (side === 'replica' ? dstFolder : srcFolder).openRead(name) };
      this.comparedHere += checks.length;
      verdicts = compareHere(
        checks.map(({ src, dst }) => ({ src: src.name, dst: dst.name, size: src.size })),
        reader,
      );
    } else {
      const pairs = checks.map(({ src, dst }) => ({ src: join(srcFolder.io, src.name), dst: join(dstDir, dst.name), size: src.size }));
      verdicts = await compareFiles(pairs, alone ? { helper: false } : {});
    }
    return new Map(checks.map((s, i) => [s, verdicts[i]!]));
  }

  /** What a compared file needs: a copy, its metadata, or nothing. The source failing to read is that file's error. */
  private compared(step: CompareStep, verdict: Verdict | undefined, caps: ReplicaCaps): Step | undefined {
    if (verdict instanceof Error) throw verdict;
    return afterCompare(step.src, step.dst, verdict ?? false, { caps, srcLocalTime: this.opts.srcLocalTime, owners: this.owners(caps) });
  }

  /** A file's or folder's metadata that differ, as far as `caps` keeps them (and no times where it holds none). */
  /** Owners are mirrored in a folder with these capabilities: root, and a file system that keeps them. */
  private owners(caps: ReplicaCaps): boolean {
    return (this.opts.root ?? false) && caps.owners;
  }

  private metaDiffOn(src: Entry, dst: Entry, caps: ReplicaCaps, path?: string): string[] {
    const diff = metaDiff(src, dst, { caps, srcLocalTime: this.opts.srcLocalTime, owners: this.owners(caps) });
    return path !== undefined && !this.opts.book.timesKept(path) ? diff.filter((d) => d !== 'mtime') : diff;
  }

  /** Apply one step; returns true when the replica folder was changed. */
  private async apply(
    step: PlannedStep,
    rel: string,
    srcFolder: OpenFolder,
    dstFolder: OpenFolder | undefined,
    real: { src: string; dst: string },
    caps: ReplicaCaps,
    filter?: DirFilter,
  ): Promise<boolean> {
    const dry = this.opts.dryRun;
    const dstReal = real.dst;
    const dstDir = dstFolder?.io ?? dstReal;
    switch (step.op) {
      case 'rename': {
        // The replica's entry under another spelling of the source's name: renamed in place, never copied again.
        if (!dry) {
          renameInPlace(dstDir, step.dst.name, step.src.name);
          // fusefat stamps a renamed entry with "now": give it back the time it had.
          if (!caps.renameKeepsTimes) setMeta(join(dstDir, step.src.name), unshifted(step.dst, caps), false);
        }
        this.report.op('updated', kindOf(step.dst), join(rel, step.src.name), { note: `renamed from ${JSON.stringify(step.dst.name)}` });
        return true;
      }
      case 'copy': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        // Copy first, then clear the way: a source file that cannot be read leaves the replica's entry alone.
        const make = (into: OpenFolder): string => this.copyWithRetry(srcFolder, into, src, path, caps);
        const kept = await this.put(make, dstFolder, src.name, target, path, step.replace, step.dst);
        // fusefat stamps the renamed temporary with "now": the source's times are set again on the installed file.
        if (!dry && !caps.renameKeepsTimes) setMeta(target, src, false);
        this.report.stats.bytes += src.size;
        this.report.op(step.dst ? 'updated' : 'created', 'file', path, { size: src.size, ...kept });
        return true;
      }
      case 'compare':
        return false; // resolved by mirrorDir before apply
      case 'meta': {
        const { src, dst } = step;
        if (!dry) {
          const owned = this.owners(caps);
          const chown = owned && (src.uid !== dst.uid || src.gid !== dst.gid) ? src : undefined;
          setMeta(join(dstDir, src.name), src, caps.modes && mirroredMode(src, owned) !== dst.mode, true, chown);
        }
        this.report.op('updated', 'file', join(rel, src.name), { note: `metadata: ${this.metaDiffOn(src, dst, caps).join(', ')}` });
        return true;
      }
      case 'mkdir': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        // Open and list the source first (and read its ignore files): an unreadable one leaves the replica's entry alone.
        const srcChild = srcFolder.openChild(src.name, src);
        try {
          const listing = srcChild.list();
          const inside = filter && this.opts.filter?.child(filter, src.name, srcChild.io, listing.entries, join(real.src, src.name));
          if (step.replace) await removeEntry(this.report, dry, target, path, step.replace, undefined, this.keeping('replaced'));
          if (!dry) makeDir(target);
          const dstChild = dry ? undefined : dstFolder ? dstFolder.openChild(src.name) : OpenFolder.openNoFollow(target);
          try {
            this.report.op('created', 'dir', path);
            const placeholder: Entry | undefined = dry ? undefined : { ...src, mode: 0o700, mtimeMs: -1 };
            const at = dstChild && dstFolder ? { parent: dstFolder, name: src.name } : undefined;
            await this.mirrorDir(
              path,
              srcChild,
              dstChild,
              listing,
              placeholder,
              !dry,
              inside,
              caps,
              join(dstReal, src.name),
              join(real.src, src.name),
              at,
            );
            if (dstChild && this.holds(at, dstChild, path, join(dstReal, src.name)))
              setMeta(dstChild.io, src, caps.modes, true, this.owners(caps) ? src : undefined);
          } finally {
            dstChild?.close();
          }
        } finally {
          srcChild.close();
        }
        return true;
      }
      case 'descend': {
        const { src, dst } = step;
        const path = join(rel, src.name);
        const dstHere = join(dstReal, src.name);
        // A subtree the look-ahead thread found mirrored throughout (on the replica's own device, and with
        // nothing to fix on the folder itself) is counted, not walked again.
        const ahead = this.lookahead;
        if (ahead && caps === this.opts.book.root && this.metaDiffOn(src, dst, caps).length === 0) {
          const checked = ahead.clean(path, { src: src.ino, dst: dst.ino });
          if (checked !== undefined) {
            this.report.stats.checked += checked;
            return false;
          }
          ahead.entering(path);
        }
        // An unreadable (or swapped) source folder throws here: its replica copy and everything below it stay as they are.
        const srcChild = srcFolder.openChild(src.name, src);
        try {
          const listing = srcChild.list();
          const inside = filter && this.opts.filter?.child(filter, src.name, srcChild.io, listing.entries, join(real.src, src.name));
          const dstChild = dstFolder ? dstFolder.openChild(dst.name, dst) : OpenFolder.openNoFollow(join(dstDir, dst.name), dst);
          try {
            // A folder on another device (a mount point below the replica) is judged by that file system.
            const own = this.opts.book.at(dstHere, caps, dstChild);
            const at = dstFolder ? { parent: dstFolder, name: dst.name } : undefined;
            const inner = await this.mirrorDir(path, srcChild, dstChild, listing, dst, false, inside, own, dstHere, join(real.src, src.name), at);
            const diff = this.metaDiffOn(src, dst, own, dstHere);
            if (diff.length > 0 || inner) {
              const holds = dry || this.holds(at, dstChild, path, dstHere);
              if (!dry && holds) {
                const chown = diff.includes('owner') ? src : undefined;
                setMeta(dstChild.io, src, own.modes && (src.mode !== dst.mode || inner), this.opts.book.timesKept(dstHere), chown);
              }
              if (diff.length > 0 && holds) this.report.op('updated', 'dir', path, { note: `metadata: ${diff.join(', ')}` });
            }
          } finally {
            dstChild.close();
          }
        } finally {
          srcChild.close();
        }
        return false; // a subfolder's metadata does not touch this folder's mtime
      }
      case 'symlink': {
        const { src } = step;
        const path = join(rel, src.name);
        const target = join(dstDir, src.name);
        const kept = await this.put(
          (into) => symlinkTempIn(into, src.target ?? '', this.owners(caps) ? src : undefined),
          dstFolder,
          src.name,
          target,
          path,
          step.replace,
          step.dst,
        );
        this.report.op(step.dst ? 'updated' : 'created', 'symlink', path, kept);
        return true;
      }
      case 'skip':
        // What the replica cannot hold (a link, a refused name, a name clash) comes with its reason from the plan.
        this.report.skip(kindOf(step.src), join(rel, step.src.name), step.reason ?? 'not a regular file, folder or symlink');
        return false;
      case 'remove':
        await removeEntry(
          this.report,
          dry,
          join(dstDir, step.dst.name),
          join(rel, step.dst.name),
          step.dst,
          filter && this.opts.filter?.insideRemoved(filter, step.dst.name),
          this.keeping('removed'),
        );
        return true;
      case 'purge-temp':
        // A leftover temporary file, or a capability probe folder of a killed pass: this tool's own, removed quietly.
        if (!dry && step.dst.type === 'dir' && isProbeName(step.dst.name)) removeProbeLeftover(join(dstDir, step.dst.name));
        else if (!dry) removeNonDir(join(dstDir, step.dst.name));
        this.report.debug(`removed leftover ${step.dst.type === 'dir' ? 'probe folder' : 'temporary'} ${JSON.stringify(join(rel, step.dst.name))}`);
        return true;
    }
  }

  /** Replica folders found moved or swapped away mid-pass (reported once; nothing more is done through them). */
  private readonly gone = new WeakSet<OpenFolder>();

  private lost(rel: string, folder: OpenFolder, real: string): void {
    if (this.gone.has(folder)) return;
    this.gone.add(folder);
    this.report.fail('dir', rel || '.', new EntryChangedError(real));
  }

  /**
   * May a replica folder's own metadata be set, after its contents? Not when it was moved out of its parent or
   * swapped away meanwhile (the handle would set them wherever it went): that is reported, once.
   */
  private holds(at: Place | undefined, folder: OpenFolder, rel: string, real: string): boolean {
    if (this.gone.has(folder)) return false;
    if (!at || stillThere(at, folder)) return true;
    this.lost(rel, folder, real);
    return false;
  }

  /** issue 14: how removals are kept (undefined without --versions). */
  private keeping(action: KeptAction): Keeping | undefined {
    return this.opts.versions && { store: this.opts.versions, action };
  }

  /**
   * Put a new file or link in place: `make` writes it to a temporary, renamed over `target` after clearing a
   * folder out of the way. Anything else in the way is replaced by the rename itself, atomically, and logged as
   * removed only once the rename has happened. A dry run makes nothing and logs what would be replaced.
   * With --versions, what is replaced (`replace`, or `old` of the same type) is kept first; returns where.
   */
  private async put(
    make: (into: OpenFolder) => string,
    into: OpenFolder | undefined,
    name: string,
    target: string,
    rel: string,
    replace: Entry | undefined,
    old?: Entry,
  ): Promise<Kept> {
    const store = this.opts.versions;
    if (this.opts.dryRun || !into) {
      if (replace) await this.clearFor(target, rel, replace);
      return store && old ? { versions: store.passName, keptAs: store.keptPath(rel) } : {};
    }
    const tmp = make(into);
    let kept: Kept = {};
    try {
      if (replace?.type === 'dir') {
        await removeEntry(this.report, false, target, rel, replace, undefined, this.keeping('replaced'));
      } else if (store && (replace ?? old)) {
        // Kept before the rename: a file is hard-linked (the replica's name stays filled), anything else moved.
        const gone = (replace ?? old) as Entry;
        const action = replace ? 'replaced' : 'updated';
        kept = { versions: store.keep(dirname(target), gone.name, { path: rel, kind: kindOf(gone), action }, true), keptAs: store.keptPath(rel) };
      }
    } catch (error) {
      discardIn(into, tmp);
      throw error;
    }
    // What the rename replaces (kept as a version: hard-linked, so nothing is freed) has its blocks freed beside the pass.
    const held = store ? undefined : into.holdBlocks(name, replace ?? old);
    try {
      installIn(into, tmp, name);
    } finally {
      releaseBlocks(held);
    }
    if (replace && replace.type !== 'dir') this.report.removed(replace, rel, kept);
    return replace ? {} : kept;
  }

  /** Dry run: what `put` would remove to make way for an entry of another type. */
  private async clearFor(target: string, rel: string, old: Entry): Promise<void> {
    if (old.type === 'dir') await removeEntry(this.report, true, target, rel, old, undefined, this.keeping('replaced'));
    else {
      const store = this.opts.versions;
      this.report.removed(old, rel, store ? { versions: store.passName, keptAs: store.keptPath(rel) } : {});
    }
  }

  private copyWithRetry(from: OpenFolder, into: OpenFolder, src: Entry, rel: string, caps: ReplicaCaps): string {
    const modes: CopyOptions = {
      modes: caps.modes,
      owners: this.owners(caps),
      onDropped: (reason) => this.report.debug(`${JSON.stringify(rel)}: setuid/setgid bits not copied (${reason})`),
    };
    const ends = folderEnds(from, src.name, into);
    try {
      return copyWith(ends, src, modes);
    } catch (error) {
      if (!(error instanceof SourceChangedError)) throw error;
      // Changed under us: take a fresh look and try once more; a second change is reported as failed.
      const fresh = from.entry(src.name);
      if (fresh.type !== 'file') throw error;
      Object.assign(src, fresh);
      const tmp = copyWith(ends, src, modes);
      this.report.debug(`${JSON.stringify(rel)} changed during the copy; copied again`);
      return tmp;
    }
  }
}
