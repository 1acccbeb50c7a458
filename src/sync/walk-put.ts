/**
 * How the walk puts a new file or link in place in a replica folder (walk-apply.ts; a file copied on two cores
 * goes through `copyWithRetry` too, walk-copy.ts): written to a temporary beside it, renamed over what was there,
 * with what it replaces kept first under --versions and the replaced file's blocks freed beside the pass.
 */
import { dirname } from 'node:path';
import type { OpenFolder } from './access.js';
import { installIn } from './apply.js';
import { copyWith, discardIn, folderEnds, SourceChangedError, type CopyOptions } from './copy-file.js';
import type { ReplicaCaps } from './capabilities.js';
import type { Entry } from './entry.js';
import { releaseBlocks } from './free-later.js';
import { kindOf, type Kept, type PassReport } from './pass-report.js';
import type { PlannedStep } from './plan.js';
import { removeEntry } from './remove.js';
import { building, writesFileDirect } from './walk-build.js';
import { mirrorsOwners, versionsKeeping, type WalkContext } from './walk-options.js';

/**
 * Put a new file or link in place: `make` writes it to a temporary, renamed over `target` after clearing a
 * folder out of the way. Anything else in the way is replaced by the rename itself, atomically, and logged as
 * removed only once the rename has happened. A dry run makes nothing and logs what would be replaced.
 * With --versions, what is replaced (`replace`, or `old` of the same type) is kept first; returns where.
 */
export async function putInPlace(
  walk: WalkContext,
  make: (into: OpenFolder) => string | Promise<string>,
  into: OpenFolder | undefined,
  name: string,
  target: string,
  rel: string,
  replace: Entry | undefined,
  old?: Entry,
): Promise<Kept> {
  const { report, opts } = walk;
  const store = opts.versions;
  if (opts.dryRun || !into) {
    if (replace) await clearFor(walk, target, rel, replace);
    return store && old ? { versions: store.passName, keptAs: store.keptPath(rel) } : {};
  }
  const tmp = await make(into);
  let kept: Kept = {};
  try {
    if (replace?.type === 'dir') {
      await removeEntry(report, false, target, rel, replace, undefined, versionsKeeping(opts, 'replaced'));
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
  if (replace && replace.type !== 'dir') report.removed(replace, rel, kept);
  return replace ? {} : kept;
}

/** Dry run: what `putInPlace` would remove to make way for an entry of another type. */
async function clearFor({ report, opts }: WalkContext, target: string, rel: string, old: Entry): Promise<void> {
  if (old.type === 'dir') await removeEntry(report, true, target, rel, old, undefined, versionsKeeping(opts, 'replaced'));
  else {
    const store = opts.versions;
    report.removed(old, rel, store ? { versions: store.passName, keptAs: store.keptPath(rel) } : {});
  }
}

/** Copy a source file into a temporary in `into`; one that changed during the copy is copied once more. */
export function copyWithRetry(
  { report, opts }: WalkContext,
  from: OpenFolder,
  into: OpenFolder,
  src: Entry,
  rel: string,
  caps: ReplicaCaps,
  /** Written under its own name (a batch's files: decided for the whole batch); else decided here (walk-build.ts). */
  direct = writesFileDirect(into, src.size),
): string {
  const modes: CopyOptions = {
    modes: caps.modes,
    owners: mirrorsOwners(opts, caps),
    onDropped: (reason) => report.debug(`${JSON.stringify(rel)}: setuid/setgid bits not copied (${reason})`),
  };
  const built = direct ? building(into) : undefined; // no chown that would change nothing (copy-file.ts)
  if (built) modes.building = built;
  const ends = folderEnds(from, src.name, into, direct);
  try {
    return copyWith(ends, src, modes);
  } catch (error) {
    if (!(error instanceof SourceChangedError)) throw error;
    // Changed under us: take a fresh look and try once more; a second change is reported as failed.
    const fresh = from.entry(src.name);
    if (fresh.type !== 'file') throw error;
    Object.assign(src, fresh);
    const tmp = copyWith(ends, src, modes);
    report.debug(`${JSON.stringify(rel)} changed during the copy; copied again`);
    return tmp;
  }
}

/** A copied file put in place (by the pass, or beside the walk: walk-late.ts): its bytes counted and its line logged. */
export function reportCopied(report: PassReport, step: Extract<PlannedStep, { op: 'copy' }>, path: string, kept: Kept = {}): void {
  const { src } = step;
  report.stats.bytes += src.size;
  // Only metadata differed, but not ones set in place (plan.ts metaStep): said so.
  const note = step.meta && { note: `metadata: ${step.meta.join(', ')}; copied again, not changed in place` };
  report.op(step.dst ? 'updated' : 'created', 'file', path, { size: src.size, ...note, ...kept });
}
