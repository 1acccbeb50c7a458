import { accessSync, constants, lstatSync, opendirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { describeError, RefusedError } from '../errors.js';

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
