import { accessSync, constants, lstatSync, opendirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import type { RemovalCount } from './count-removals.js';
import { isTempName } from './temp.js';

export interface PassPaths {
  /** Absolute real path of the source folder. */
  source: string;
  /** Absolute real path of the replica folder (or where it will be created). */
  replica: string;
  /** True when the replica folder does not exist yet. */
  replicaMissing: boolean;
  /** Absolute path of the log file, if any. */
  log?: string;
}

/** True when `child` is `parent` or below it (both absolute, resolved). */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(prefix);
}

/** realpath of the nearest existing ancestor, with the missing tail appended: how a path will resolve once created. */
export function resolveEventual(path: string): string {
  const abs = resolve(path);
  const tail: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      lstatSync(cur);
      return join(realpathSync(cur), ...tail.reverse());
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return abs;
      tail.push(basename(cur));
      cur = parent;
    }
  }
}

/**
 * The path guards shared by sync-once, schedule and run: checked before anything is written.
 * Throws RefusedError (exit 2) with one line naming the path and the reason.
 */
export function checkPassPaths(source: string, replica: string, log?: string): PassPaths {
  const sourceAbs = resolve(source);
  let st;
  try {
    st = statSync(sourceAbs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RefusedError(`source folder does not exist: ${sourceAbs}`);
    throw new RefusedError(`source folder cannot be read: ${sourceAbs}: ${describeError(error)}`);
  }
  if (!st.isDirectory()) throw new RefusedError(`source is not a folder: ${sourceAbs}`);
  try {
    accessSync(sourceAbs, constants.R_OK | constants.X_OK);
    opendirSync(sourceAbs).closeSync(); // can be listed (without reading a wide root twice)
  } catch (error) {
    throw new RefusedError(`source folder cannot be read: ${sourceAbs}: ${describeError(error)}`);
  }
  const sourceReal = realpathSync(sourceAbs);

  const replicaAbs = resolve(replica);
  let replicaMissing = false;
  let replicaReal: string;
  try {
    const rst = statSync(replicaAbs);
    if (!rst.isDirectory()) throw new RefusedError(`replica exists but is not a folder: ${replicaAbs}`);
    replicaReal = realpathSync(replicaAbs);
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new RefusedError(`replica cannot be used: ${replicaAbs}: ${describeError(error)}`);
    let isLink = false;
    try {
      isLink = lstatSync(replicaAbs).isSymbolicLink();
    } catch {
      // plainly missing
    }
    if (isLink) throw new RefusedError(`replica is a symlink to nothing: ${replicaAbs}`);
    replicaMissing = true;
    replicaReal = resolveEventual(replicaAbs);
  }

  if (sourceReal === replicaReal) {
    throw new RefusedError(`source and replica are the same folder: ${sourceReal}`);
  }
  if (isInside(replicaReal, sourceReal)) {
    throw new RefusedError(`replica ${replicaReal} is inside the source ${sourceReal}`);
  }
  if (isInside(sourceReal, replicaReal)) {
    throw new RefusedError(`source ${sourceReal} is inside the replica ${replicaReal}`);
  }

  const paths: PassPaths = { source: sourceReal, replica: replicaReal, replicaMissing };
  if (log !== undefined) {
    if (log.trim() === '') throw new RefusedError('log file path is empty');
    const logAbs = resolve(log);
    const logReal = resolveEventual(logAbs);
    if (isInside(logReal, sourceReal)) throw new RefusedError(`log file ${logAbs} is inside the source ${sourceReal}`);
    if (isInside(logReal, replicaReal)) throw new RefusedError(`log file ${logAbs} is inside the replica ${replicaReal}`);
    try {
      if (statSync(logAbs).isDirectory()) throw new RefusedError(`log file is a folder: ${logAbs}`);
    } catch (error) {
      if (error instanceof RefusedError) throw error;
    }
    paths.log = logAbs;
  }
  return paths;
}

/** True when the folder holds at least one entry `accept` takes; reads only as far as the first one. */
function hasEntry(path: string, accept: (entry: Dirent) => boolean): boolean {
  const dir = opendirSync(path);
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) if (accept(entry)) return true;
    return false;
  } finally {
    dir.closeSync();
  }
}

const isMirrored = (e: Dirent): boolean => e.isFile() || e.isDirectory() || e.isSymbolicLink();

/**
 * Guard: an empty source must not silently empty a full replica (an unmounted disk looks empty). With exclude
 * rules, `mirrorsAnything` says whether the source holds anything they keep (docs/filters.md).
 */
export function checkEmptySource(paths: PassPaths, mirrorsAnything?: () => boolean): void {
  if (paths.replicaMissing || (mirrorsAnything ? mirrorsAnything() : hasEntry(paths.source, isMirrored))) return;
  let replicaHolds: boolean;
  try {
    replicaHolds = hasEntry(paths.replica, (e) => !isTempName(e.name));
  } catch {
    replicaHolds = true; // cannot tell: assume the worst
  }
  if (replicaHolds) {
    throw new RefusedError(
      `source ${paths.source} ${mirrorsAnything ? 'has nothing to mirror (every entry is excluded)' : 'is empty'} but the replica ${paths.replica} is not${mirrorsAnything ? ' empty' : ''}; refusing to empty it ` +
        `(is a disk unmounted? pass --allow-empty-source to mirror an empty source)`,
    );
  }
}

/**
 * Guard: a replica folder this user may not write and cannot open up (not its owner) would fail every entry
 * one by one; refuse it up front with one line instead. A read-only replica the user owns is still mirrored.
 */
export function checkReplicaWritable(paths: PassPaths): void {
  if (paths.replicaMissing) return; // creating it is its own check
  try {
    accessSync(paths.replica, constants.W_OK | constants.X_OK);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') {
      throw new RefusedError(`replica folder is on a read-only file system: ${paths.replica}; nothing was changed`);
    }
    if (code !== 'EACCES' || statSync(paths.replica).uid === process.getuid?.()) return;
    throw new RefusedError(`replica folder cannot be written by this user: ${paths.replica}: ${describeError(error)}`);
  }
}

/** Guard: --max-delete, decided from the whole plan (a read-only count) before the first change. */
export function checkMaxDelete(count: RemovalCount, maxDelete: number): void {
  if (count.uncountable !== undefined) {
    throw new RefusedError(
      `cannot count what the pass would remove in ${JSON.stringify(count.uncountable)} (it cannot be read), ` +
        `so --max-delete ${maxDelete} cannot be checked; nothing was changed`,
    );
  }
  if (count.removed > maxDelete) {
    throw new RefusedError(`the pass would remove ${count.removed} entries, more than --max-delete ${maxDelete}; nothing was changed`);
  }
}
