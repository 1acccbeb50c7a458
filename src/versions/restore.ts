/**
 * `restore`: copy one kept version (a file, a link, or a folder as a whole tree) out of a versions folder to a
 * target, exactly (bytes, permission bits, modification time; links recreated, never followed). The versions
 * folder is only read. Refusals are checked before anything is written.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describeError, RefusedError, UsageError } from '../errors.js';
import { copyToTemp, discardTemp, installTemp, makeDir, setMeta, symlinkToTemp } from '../sync/apply.js';
import { lstatEntry } from '../sync/entry.js';
import { isInside, resolveEventual } from '../sync/guards.js';
import { tempName } from '../sync/temp.js';
import { keptBelow, readCatalog, versionsOf, type Catalog, type Version } from './catalog.js';
import { atOrBefore, normaliseReplicaPath, type AtKey } from './names.js';
import { removeTree } from './prune.js';
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

  // Built beside the target under a temporary name, then renamed into place: never a half-restored target.
  const result: RestoreResult = { version, rel, target, entries: 0, bytes: 0, failures: [] };
  let tmp: string;
  if (version.kind === 'dir') {
    tmp = join(parent, tempName());
    makeDir(tmp);
    try {
      copyTree(version.path, tmp, '', result);
    } catch (error) {
      removeTree(tmp);
      throw error;
    }
  } else {
    const entry = lstatEntry(version.path, basename(target));
    tmp = entry.type === 'symlink' ? symlinkToTemp(parent, readlinkSync(version.path)) : copyToTemp(version.path, parent, entry);
    result.entries = 1;
    result.bytes = entry.type === 'file' ? entry.size : 0;
  }
  try {
    // A replaced folder goes first (rename cannot replace a non-empty folder); a file or link is replaced atomically.
    if (existing && lstatSync(target).isDirectory()) removeTree(target);
    if (version.kind === 'dir') renameSync(tmp, target);
    else installTemp(tmp, target);
  } catch (error) {
    if (version.kind === 'dir') removeTree(tmp);
    else discardTemp(tmp);
    throw new RefusedError(`target ${target} could not be replaced: ${describeError(error)}`);
  }
  return result;
}

/** Copy the folder `from` into the new folder `to` (post-order: contents, then its mode and times). */
function copyTree(from: string, to: string, rel: string, result: RestoreResult): void {
  const self = lstatEntry(from, basename(from));
  result.entries++;
  for (const name of readdirSync(from).sort()) {
    const src = join(from, name);
    const dst = join(to, name);
    const path = rel === '' ? name : `${rel}/${name}`;
    try {
      const entry = lstatEntry(src, name);
      if (entry.type === 'dir') {
        makeDir(dst);
        copyTree(src, dst, path, result);
      } else if (entry.type === 'file') {
        installTemp(copyToTemp(src, to, entry), dst);
        result.entries++;
        result.bytes += entry.size;
      } else if (entry.type === 'symlink') {
        installTemp(symlinkToTemp(to, readlinkSync(src)), dst);
        result.entries++;
      } else {
        result.failures.push(`${JSON.stringify(path)}: not a file, folder or symlink (left out)`);
      }
    } catch (error) {
      result.failures.push(`${JSON.stringify(path)}: ${describeError(error)}`);
    }
  }
  setMeta(to, self, true);
}
