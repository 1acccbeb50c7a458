/**
 * The refusals of `--versions <dir>`, checked at pass start (and by `schedule`) before anything is written:
 * a versions folder the pass could not rename into, or one the pass would itself mirror over or delete.
 */
import { accessSync, constants, lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import type { PassPaths } from '../sync/path-guards.js';
import { isWithin, nearestExisting, resolveEventual, sameFolder } from '../sync/path-identity.js';
import { META_DIR } from './names.js';
import { readStoreRecord } from './store.js';

export interface VersionsPaths {
  /** Absolute real path of the versions folder (or where it will be created). */
  dir: string;
  /**
   * Set when the versions folder is a direct child of the replica's top folder: its name there. The pass leaves
   * that entry alone (matched by identity, see `isVersionsFolder`) and the source may not have one of that name.
   */
  inReplica?: string;
}

/**
 * Check a `--versions` folder against the pass's source and replica (already checked by checkPassPaths).
 * Throws RefusedError (exit 2), one line naming the path and the reason.
 */
export function checkVersionsDir(versions: string, paths: Pick<PassPaths, 'source' | 'replica'>): VersionsPaths {
  if (versions.trim() === '') throw new RefusedError('versions folder path is empty');
  const abs = resolve(versions);
  const dir = resolveEventual(abs);
  const { source, replica } = paths;
  // Identity, not spelling (issue 11): a bind mount or a second path to a folder is caught like its original.
  if (dir === replica || sameFolder(dir, replica)) throw new RefusedError(`versions folder ${abs} is the replica itself`);
  if (dir === source || sameFolder(dir, source)) throw new RefusedError(`versions folder ${abs} is the source itself`);
  if (isWithin(dir, source)) throw new RefusedError(`versions folder ${abs} is inside the source ${source}; it would be mirrored as data`);
  if (isWithin(source, dir)) throw new RefusedError(`the source ${source} is inside the versions folder ${abs}`);
  if (isWithin(replica, dir)) throw new RefusedError(`the replica ${replica} is inside the versions folder ${abs}`);

  let inReplica: string | undefined;
  if (isWithin(dir, replica)) {
    // Only as a direct child of the replica's top folder, named so (a second path to it is refused).
    if (dirname(dir) !== replica) {
      throw new RefusedError(
        `versions folder ${abs} is inside the replica below its top folder, where the pass would mirror over it or remove it; ` +
          `put it beside the replica (recommended) or directly in the replica's top folder`,
      );
    }
    inReplica = basename(dir);
    let clash = false;
    try {
      lstatSync(resolve(source, inReplica));
      clash = true;
    } catch {
      // the source has no entry of that name: the pass can leave the versions folder alone
    }
    if (clash) {
      throw new RefusedError(
        `the source has an entry named ${JSON.stringify(inReplica)} at its top, which the pass would mirror where the versions folder ${abs} is`,
      );
    }
  }

  let names: string[] | undefined;
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new RefusedError(`versions folder exists but is not a folder: ${abs}`);
    names = readdirSync(dir);
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RefusedError(`versions folder cannot be used: ${abs}: ${describeError(error)}`);
    }
  }
  if (names !== undefined && names.length > 0) {
    if (!names.includes(META_DIR)) {
      throw new RefusedError(`versions folder ${abs} is not empty and was not made by folder-sync; use a new or empty folder`);
    }
    const store = readStoreRecord(dir);
    if (store && store.replica !== replica) {
      throw new RefusedError(`versions folder ${abs} keeps versions of another replica (${store.replica}); use one versions folder per replica`);
    }
  }

  // Entries are moved there by rename, which cannot cross file systems: compare devices (or the nearest existing folders').
  const here = nearestExisting(dir);
  const there = nearestExisting(replica);
  if (statSync(here).dev !== statSync(there).dev) {
    throw new RefusedError(
      `versions folder ${abs} is on another file system than the replica ${replica}; kept entries are moved by rename, so it must be on the replica's disk`,
    );
  }
  try {
    accessSync(here, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new RefusedError(`versions folder cannot be written: ${abs}: ${describeError(error)}`);
  }
  return inReplica === undefined ? { dir } : { dir, inReplica };
}
