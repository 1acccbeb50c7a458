/**
 * `restore`: copy one kept version (a file, a link, or a folder as a whole tree) out of a versions folder to a
 * target, exactly (bytes, permission bits, modification time; links recreated, never followed). The versions
 * folder is only read. Refusals are checked before anything is written.
 */
import { mkdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describeError, RefusedError, UsageError } from '../errors.js';
import { OpenFolder } from '../sync/access.js';
import { unpinWorkingFolder } from '../sync/working-folder.js';
import { installIn, symlinkTempIn } from '../sync/apply.js';
import { copyWith, discardIn, folderEnds } from '../sync/copy-file.js';
import { mirroredMode } from '../sync/plan.js';
import type { Entry } from '../sync/entry.js';
import { isInside, resolveEventual } from '../sync/path-identity.js';
import { tempName } from '../sync/temp.js';
import { emptyFolder } from './prune.js';
import { keptBelow, readCatalog, versionsOf, type Catalog, type Version } from './catalog.js';
import { atOrBefore, normaliseReplicaPath, type AtKey } from './names.js';
import { exists } from '../sync/entry.js';

/** Folders the target must not be in (or, for sources, only with `intoSource`): the store's own and scheduled jobs'. */
export interface KnownFolders {
  replicas: string[];
  sources: string[];
}

export interface RestoreRequest {
  /** The versions folder. */
  dir: string;
  /** The path in the replica, relative (`docs/a.txt`) or absolute inside the store's replica or source. */
  path: string;
  target: string;
  at?: AtKey;
  /** Replace an existing target. */
  force?: boolean;
  /** Allow a target inside a mirrored source (the next pass then mirrors it into the replica). */
  intoSource?: boolean;
  known?: KnownFolders;
}

export interface RestoreResult {
  version: Version;
  rel: string;
  target: string;
  entries: number;
  bytes: number;
  /** Entries inside a restored folder that could not be copied (each with its reason). */
  failures: string[];
}

/** The versions folder read as a catalog, with its path made real (a link to it is fine on the command line). */
export function openCatalog(dir: string): Catalog {
  if (dir.trim() === '') throw new UsageError('versions folder path is empty');
  return readCatalog(resolveEventual(resolve(dir)));
}

/** A path the user gave: relative to the replica, or absolute inside the store's replica or source. */
export function replicaPathOf(catalog: Catalog, path: string): string {
  if (isAbsolute(path)) {
    const abs = resolveEventual(resolve(path));
    for (const root of [catalog.store?.replica, catalog.store?.source]) {
      if (root !== undefined && isInside(abs, root)) return relative(root, abs).split(sep).join('/');
    }
    throw new UsageError(`${path} is absolute but not inside the replica or source of this versions folder; give the path relative to the replica`);
  }
  return normaliseReplicaPath(path, sep);
}

/** The version `restore` takes: the newest at or before `at` (the newest of all without it). */
export function pickVersion(catalog: Catalog, rel: string, at?: AtKey): Version {
  const all = versionsOf(catalog, rel);
  const eligible = at ? all.filter((v) => atOrBefore(v.pass, at)) : all;
  const chosen = eligible.at(-1);
  if (chosen) return chosen;
  if (all.length > 0) {
    throw new RefusedError(`no kept version of ${JSON.stringify(rel)} at or before --at (the oldest is from ${all[0]?.pass.name})`);
  }
  const inside = keptBelow(catalog, rel);
  const hint = inside.length > 0 ? ` (entries inside it were kept, e.g. ${JSON.stringify(inside[0])}: see folder-sync versions)` : '';
  throw new RefusedError(`no kept version of ${JSON.stringify(rel === '' ? '.' : rel)} in ${catalog.dir}${hint}`);
}

/** The target as it will resolve: its folder's real path plus its own name (the target itself, if a link, is not followed). */
function targetPath(target: string): string {
  if (target.trim() === '') throw new UsageError('target path is empty');
  const abs = resolve(target);
  return join(resolveEventual(dirname(abs)), basename(abs));
}

export function restoreVersion(req: RestoreRequest): RestoreResult {
  const catalog = openCatalog(req.dir);
  const rel = replicaPathOf(catalog, req.path);
  const version = pickVersion(catalog, rel, req.at);
  const target = targetPath(req.target);

  if (isInside(target, catalog.dir) || isInside(catalog.dir, target)) {
    throw new RefusedError(`target ${target} is inside the versions folder ${catalog.dir}, or holds it`);
  }
  const replicas = [catalog.store?.replica, ...(req.known?.replicas ?? [])].filter((p): p is string => p !== undefined);
  const sources = [catalog.store?.source, ...(req.known?.sources ?? [])].filter((p): p is string => p !== undefined);
  for (const replica of replicas) {
    if (isInside(target, replica) || isInside(replica, target)) {
      throw new RefusedError(
        `target ${target} is in the replica ${replica}, where the next pass would remove or overwrite it; restore into the source (--into-source) or elsewhere`,
      );
    }
  }
  if (!req.intoSource) {
    for (const source of sources) {
      if (isInside(target, source) || isInside(source, target)) {
        throw new RefusedError(
          `target ${target} is in the mirrored source ${source}: the next pass copies it into the replica; pass --into-source if that is what you want`,
        );
      }
    }
  }
  const existing = exists(target);
  if (existing && !req.force) throw new RefusedError(`target already exists: ${target} (pass --force to replace it)`);
  if (version.kind === 'special')
    throw new RefusedError(`the kept ${JSON.stringify(rel)} is not a file, folder or symlink; copy it by hand from ${version.path}`);

  const parent = dirname(target);
  try {
    mkdirSync(parent, { recursive: true });
    if (!statSync(parent).isDirectory()) throw new Error('not a folder');
  } catch (error) {
    throw new RefusedError(`the target's folder cannot be used: ${parent}: ${describeError(error)}`);
  }

  // Both sides through opened folders (access.ts): the kept entry reached from its pass folder without following
  // a link, the target's folder opened once and written only by name inside it. Someone who can write inside a
  // kept folder, or beside the target (a shared source with --into-source), cannot steer the copy elsewhere.
  const result: RestoreResult = { version, rel, target, entries: 0, bytes: 0, failures: [] };
  const name = basename(target);
  let from: OpenFolder | undefined;
  let into: OpenFolder | undefined;
  try {
    from = openKeptParent(version);
    try {
      into = OpenFolder.openRoot(parent);
    } catch (error) {
      throw new RefusedError(`the target's folder cannot be used: ${parent}: ${describeError(error)}`);
    }
    const entry = from.entry(basename(version.path));
    // Built beside the target under a temporary name, then renamed into place: never a half-restored target.
    let tmp: string;
    if (entry.type === 'dir') {
      tmp = tempName();
      const made = into.mkdir(tmp);
      const kept = from.openChild(entry.name, entry);
      try {
        copyTree(kept, made, entry, '', result);
      } catch (error) {
        removeIn(into, tmp);
        throw error;
      } finally {
        kept.close();
        made.close();
      }
    } else if (entry.type === 'file' || entry.type === 'symlink') {
      tmp = entry.type === 'symlink' ? symlinkTempIn(into, entry.target ?? '') : copyWith(folderEnds(from, entry.name, into), entry);
      result.entries = 1;
      result.bytes = entry.type === 'file' ? entry.size : 0;
    } else {
      throw new RefusedError(`the kept ${JSON.stringify(rel)} is not a file, folder or symlink; copy it by hand from ${version.path}`);
    }
    try {
      // A replaced folder goes first (rename cannot replace a non-empty folder); a file or link is replaced atomically.
      if (existing && into.lstat(name).isDirectory()) removeIn(into, name);
      if (entry.type === 'dir') into.rename(tmp, name);
      else installIn(into, tmp, name);
    } catch (error) {
      if (entry.type === 'dir') removeIn(into, tmp);
      else discardIn(into, tmp);
      throw new RefusedError(`target ${target} could not be replaced: ${describeError(error)}`);
    }
    return result;
  } finally {
    from?.close();
    into?.close();
    unpinWorkingFolder();
  }
}

/**
 * The folder holding a kept entry, reached from its pass folder one name at a time without following a link
 * (a kept folder keeps its owner, who could swap something inside it for a link meanwhile).
 */
function openKeptParent(version: Version): OpenFolder {
  const names = relative(version.pass.path, dirname(version.path))
    .split(sep)
    .filter((n) => n !== '');
  let folder = OpenFolder.openRoot(version.pass.path);
  for (const n of names) {
    try {
      const next = folder.openChild(n);
      folder.close();
      folder = next;
    } catch (error) {
      folder.close();
      throw error;
    }
  }
  return folder;
}

/** Remove the entry `name` of an opened folder, a folder with everything below it (through handles). */
function removeIn(folder: OpenFolder, name: string): void {
  try {
    const st = folder.lstat(name);
    if (!st.isDirectory()) return folder.unlink(name);
    const inside = folder.openChild(name, st);
    try {
      emptyFolder(inside, Number(st.mode & 0o7777n));
    } finally {
      inside.close();
    }
    folder.rmdir(name);
  } catch {
    // best effort: a leftover temporary is purged by name later, never a user's entry
  }
}

/** Copy the opened folder `from` into the new opened folder `to` (post-order: contents, then its mode and times). */
function copyTree(from: OpenFolder, to: OpenFolder, self: Entry, rel: string, result: RestoreResult): void {
  result.entries++;
  const listing = from.list();
  for (const issue of listing.issues)
    result.failures.push(`${JSON.stringify(rel === '' ? issue.name : `${rel}/${issue.name}`)}: ${describeError(issue.error)}`);
  for (const entry of listing.entries) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    try {
      if (entry.type === 'dir') {
        const child = from.openChild(entry.name, entry);
        try {
          const made = to.mkdir(entry.name);
          try {
            copyTree(child, made, entry, path, result);
          } finally {
            made.close();
          }
        } finally {
          child.close();
        }
      } else if (entry.type === 'file') {
        installIn(to, copyWith(folderEnds(from, entry.name, to), entry), entry.name);
        result.entries++;
        result.bytes += entry.size;
      } else if (entry.type === 'symlink') {
        installIn(to, symlinkTempIn(to, entry.target ?? ''), entry.name);
        result.entries++;
      } else {
        result.failures.push(`${JSON.stringify(path)}: not a file, folder or symlink (left out)`);
      }
    } catch (error) {
      result.failures.push(`${JSON.stringify(path)}: ${describeError(error)}`);
    }
  }
  to.setMode(mirroredMode(self, false));
  to.setTimes(self.atimeMs, self.mtimeMs);
}
