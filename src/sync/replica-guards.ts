/**
 * The guards on what a pass would do to an existing replica, checked before the first change: empty it from an
 * empty source, fail every entry for want of write access, remove more than --max-delete allows.
 */
import { accessSync, constants, opendirSync, statSync, type Dirent } from 'node:fs';
import { describeError, RefusedError } from '../errors.js';
import type { RemovalCount } from './count-removals.js';
import type { PassPaths } from './path-guards.js';
import { isTempName } from './temp.js';

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
