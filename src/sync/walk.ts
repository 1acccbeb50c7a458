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
 * - Access: both sides are walked through opened folders (access.ts), each child opened from its parent's handle
 *   without following links and checked against its listing; every read and change is by name in an opened
 *   folder. A folder swapped for a link or another folder is reported and the pass goes on.
 */
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { EntryChangedError, listOrDenied, sameIdentity, unpinWorkingFolder, type OpenFolder } from './access.js';
import {
  copyToTemp,
  discardTemp,
  ensureOwnerAccess,
  installTemp,
  setFileMeta,
  setFolderMeta,
  SourceChangedError,
  symlinkToTemp,
  type CopyOptions,
} from './apply.js';
import { PARALLEL_FROM, sameContentsOf } from './compare.js';
import type { Entry, Listing } from './entry.js';
import { kindOf, type PassReport } from './pass-report.js';
import { afterCompare, metaDiff, planDir, type Step } from './plan.js';
import { removeEntry } from './remove.js';

export interface WalkOptions {
  checksum: boolean;
  dryRun: boolean;
  /** Mirror owners (the pass runs as root); otherwise setuid/setgid bits are dropped from copies. */
  owners: boolean;
}

/** Where an opened replica folder sits: its parent's handle and its name there (to see it swapped away). */
interface Place {
  parent: OpenFolder;
  name: string;
}

/** One mirror pass over a tree: walk both sides a folder at a time, plan each folder, apply the plan. */
export class MirrorWalk {
  constructor(
    private readonly report: PassReport,
    private readonly opts: WalkOptions,
  ) {}

  /**
   * Mirror one opened folder whose source listing is already taken. `dst` is the opened replica folder (undefined
   * only in a dry run, when it does not exist yet), `dstEntry` its entry as listed before any change; `fresh`
   * when this pass just created it (empty and owner-writable); `place` where it sits, so a folder swapped away
   * while the pass works in it is reported. Returns true when anything inside was changed.
   */
  async mirrorDir(
    rel: string,
    src: OpenFolder,
    dst: OpenFolder | undefined,
    srcListing: Listing,
    dstEntry: Entry | undefined,
    fresh = false,
    place?: Place,
  ): Promise<boolean> {
    await this.report.breathe();
    const keep = this.report.sourceIssues(rel, srcListing);
    const srcEntries = srcListing.entries;

    let dstEntries: Entry[] = [];
    let dstMode = dstEntry?.mode ?? 0o700;
    let opened = fresh;
    if (dst && dstEntry && !fresh) {
      const listed = this.listReplica(rel || '.', dst, dstMode);
      if (!listed) return false;
      dstEntries = listed.entries;
      if (listed.opened) {
        opened = true;
        dstMode |= 0o700;
      }
      if (keep.size) dstEntries = dstEntries.filter((e) => !keep.has(e.name));
    }

    this.report.stats.checked += srcEntries.length;
    let changed = false;
    for (const planned of planDir(srcEntries, dstEntries, { checksum: this.opts.checksum, owners: this.opts.owners })) {
      await this.report.breathe();
      let step: Step | undefined = planned;
      const entry = 'src' in step ? step.src : step.dst;
      try {
        // Contents decide first, so a re-copy below opens a read-only folder like any other change.
        if (step.op === 'compare') step = await this.compare(step, src, dst);
        if (!step) continue;
        if (place && dst && !this.opts.dryRun && step.op !== 'skip' && step.op !== 'descend' && !stillThere(place, dst)) {
          // Writes would still land in the folder that was opened, wherever it went; it is reported instead.
          this.report.fail('dir', rel || '.', new EntryChangedError(dst.path));
          return false; // and its metadata is not touched either
        }
        if (!this.opts.dryRun && !opened && step.op !== 'descend' && step.op !== 'skip' && step.op !== 'meta') {
          // First change in this folder: make sure its owner can write it (read-only folders are still mirrored).
          if (dst && dstEntry && ensureOwnerAccess(dst, dstMode)) dstMode |= 0o700;
          opened = true;
        }
        if (await this.apply(step, rel, src, dst)) changed = true;
      } catch (error) {
        this.report.handle(kindOf(entry), join(rel, entry.name), error);
        if (step && step.op !== 'descend' && step.op !== 'skip') changed = true;
      }
    }
    // Opening the folder changed its mode: the caller must restore it even if nothing else changed.
    return changed || opened;
  }

  /**
   * List an opened replica folder. One its owner cannot list or search (mode 0, or r-- without x) is opened
   * first, except in a dry run, which says so and does not look inside. Undefined when it cannot be listed (reported).
   */
  private listReplica(rel: string, folder: OpenFolder, mode: number): { entries: Entry[]; opened: boolean } | undefined {
    const issuesAt = rel === '.' ? '' : rel;
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
    if (!ensureOwnerAccess(folder, mode)) {
      this.report.handle('dir', rel, denied); // its owner can already list it: not ours to open
      return undefined;
    }
    let listing: Listing;
    try {
      listing = folder.list();
    } catch (error) {
      this.report.handle('dir', rel, error);
      folder.setMode(mode);
      return undefined;
    }
    // Opened or not, what the listing could not look at is reported (an undecodable name inside stays).
    this.report.replicaIssues(issuesAt, listing);
    return { entries: listing.entries, opened: true };
  }

  /** --checksum: compare both files by hash, block by block; an unreadable replica copy counts as different. */
  private async compare(step: Extract<Step, { op: 'compare' }>, src: OpenFolder, dst: OpenFolder | undefined): Promise<Step | undefined> {
    const { src: s, dst: d } = step;
    const a = src.openFile(s.name, s);
    try {
      let b: { fd: number } | undefined;
      try {
        b = dst?.openFile(d.name, d);
      } catch {
        b = undefined;
      }
      if (!b) return afterCompare(s, d, false, this.opts.owners);
      try {
        // The two-core path awaits hasha's worker: the working folder goes back to its owner meanwhile.
        if (s.size >= PARALLEL_FROM) unpinWorkingFolder();
        return afterCompare(s, d, await sameContentsOf(a.fd, b.fd, s.size), this.opts.owners);
      } finally {
        closeQuietly(b.fd);
      }
    } finally {
      closeQuietly(a.fd);
    }
  }

  /** Apply one step; returns true when the replica folder was changed. */
  private async apply(step: Step, rel: string, src: OpenFolder, dst: OpenFolder | undefined): Promise<boolean> {
    const dry = this.opts.dryRun;
    const owners = this.opts.owners;
    switch (step.op) {
      case 'copy': {
        const s = step.src;
        const path = join(rel, s.name);
        // Copy first, then clear the way: a source file that cannot be read leaves the replica's entry alone.
        await this.put(() => this.copyWithRetry(src, need(dst), s, path), dst, s.name, path, step.replace);
        this.report.stats.bytes += s.size;
        this.report.op(step.dst ? 'updated' : 'created', 'file', path, { size: s.size });
        return true;
      }
      case 'compare':
        return false; // resolved by mirrorDir before apply
      case 'meta': {
        const { src: s, dst: d } = step;
        if (!dry) setFileMeta(need(dst), s, d, owners);
        this.report.op('updated', 'file', join(rel, s.name), { note: `metadata: ${metaDiff(s, d, owners).join(', ')}` });
        return true;
      }
      case 'mkdir': {
        const s = step.src;
        const path = join(rel, s.name);
        // Open and list the source first: an unreadable source folder leaves the replica's entry alone.
        const srcChild = src.openChild(s.name, s);
        try {
          const listing = srcChild.list();
          if (step.replace) await removeEntry(this.report, dry, need(dst), s.name, path, step.replace);
          const dstChild = dry ? undefined : need(dst).mkdir(s.name);
          try {
            this.report.op('created', 'dir', path);
            const placeholder: Entry | undefined = dry ? undefined : { ...s, mode: 0o700, mtimeMs: -1, uid: undefined, gid: undefined };
            const at = dstChild && dst ? { parent: dst, name: s.name } : undefined;
            await this.mirrorDir(path, srcChild, dstChild, listing, placeholder, !dry, at);
            if (dstChild) setFolderMeta(dstChild, s, undefined, true, owners);
          } finally {
            dstChild?.close();
          }
        } finally {
          srcChild.close();
        }
        return true;
      }
      case 'descend': {
        const { src: s, dst: d } = step;
        const path = join(rel, s.name);
        // An unreadable source folder throws here: its replica copy and everything below it stay as they are.
        const srcChild = src.openChild(s.name, s);
        try {
          const listing = srcChild.list();
          const target = need(dst);
          const dstChild = target.openChild(d.name, d);
          try {
            const inner = await this.mirrorDir(path, srcChild, dstChild, listing, d, false, { parent: target, name: d.name });
            const diff = metaDiff(s, d, owners);
            if (diff.length > 0 || inner) {
              if (!dry) setFolderMeta(dstChild, s, d, diff.includes('mode') || inner, owners);
              if (diff.length > 0) this.report.op('updated', 'dir', path, { note: `metadata: ${diff.join(', ')}` });
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
        const s = step.src;
        const path = join(rel, s.name);
        await this.put(() => symlinkToTemp(need(dst), s, owners), dst, s.name, path, step.replace);
        this.report.op(step.dst ? 'updated' : 'created', 'symlink', path);
        return true;
      }
      case 'skip':
        this.report.skip(kindOf(step.src), join(rel, step.src.name), 'not a regular file, folder or symlink');
        return false;
      case 'remove':
        await removeEntry(this.report, dry, need(dst), step.dst.name, join(rel, step.dst.name), step.dst);
        return true;
      case 'purge-temp':
        if (!dry) need(dst).unlink(step.dst.name);
        this.report.debug(`removed leftover temporary ${JSON.stringify(join(rel, step.dst.name))}`);
        return true;
    }
  }

  /**
   * Put a new file or link in place: `make` writes it to a temporary in `folder`, renamed over `name` after
   * clearing a folder out of the way. Anything else in the way is replaced by the rename itself, atomically, and
   * logged as removed only once the rename has happened. A dry run makes nothing and logs what would be replaced.
   */
  private async put(make: () => string, folder: OpenFolder | undefined, name: string, rel: string, replace: Entry | undefined): Promise<void> {
    if (this.opts.dryRun) {
      if (replace?.type === 'dir') await removeEntry(this.report, true, need(folder), name, rel, replace);
      else if (replace) this.report.removed(replace, rel);
      return;
    }
    const target = need(folder);
    const tmp = make();
    if (replace?.type === 'dir') {
      try {
        await removeEntry(this.report, false, target, name, rel, replace);
      } catch (error) {
        discardTemp(target, tmp);
        throw error;
      }
    }
    installTemp(target, tmp, name);
    if (replace && replace.type !== 'dir') this.report.removed(replace, rel);
  }

  private copyWithRetry(src: OpenFolder, dst: OpenFolder, s: Entry, rel: string): string {
    const opts: CopyOptions = {
      owners: this.opts.owners,
      onDropped: (reason) => this.report.debug(`${JSON.stringify(rel)}: setuid/setgid bits not copied (${reason})`),
    };
    try {
      return copyToTemp(src, dst, s, opts);
    } catch (error) {
      if (!(error instanceof SourceChangedError)) throw error;
      // Changed under us: take a fresh look and try once more; a second change is reported as failed.
      const fresh = src.entry(s.name);
      if (fresh.type !== 'file') throw error;
      Object.assign(s, fresh);
      const tmp = copyToTemp(src, dst, s, opts);
      this.report.debug(`${JSON.stringify(rel)} changed during the copy; copied again`);
      return tmp;
    }
  }
}

/** The replica folder a step works in: always there for a change (a dry run of a missing replica plans none). */
function need(folder: OpenFolder | undefined): OpenFolder {
  if (!folder) throw new Error('internal: a change was planned in a replica folder that is not open');
  return folder;
}

/** Is the opened replica folder still the one at its place (not moved away or swapped for a link)? */
function stillThere(place: Place, folder: OpenFolder): boolean {
  try {
    const st = place.parent.lstat(place.name);
    return st.isDirectory() && sameIdentity(st, folder);
  } catch {
    return false;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
