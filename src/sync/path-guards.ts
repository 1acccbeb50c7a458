/**
 * The guards on the pass's paths, checked before anything is written: the source a folder that can be listed, the
 * replica a folder or yet to be made, neither the same folder as the other nor inside it (by identity, through
 * links and bind mounts: path-identity.ts), and a log file outside both trees.
 */
import { accessSync, constants, lstatSync, opendirSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import { idKey, isWithinUsing, nearestExisting, readMounts, resolveEventual, type MountEntry } from './path-identity.js';

export interface PassPaths {
  /** Absolute real path of the source folder. */
  source: string;
  /** Absolute real path of the replica folder (or where it will be created). */
  replica: string;
  /** True when the replica folder does not exist yet. */
  replicaMissing: boolean;
  /** Absolute path of the log file, if any. */
  log?: string;
  /** "dev:ino" of the source and (existing) replica folder as checked: the pass opens exactly these. */
  sourceId?: string;
  replicaId?: string;
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

  // Identity, not spelling: bind mounts and other second paths to one folder are caught both ways.
  const mounts = readMounts();
  const sourceId = idKey(sourceReal);
  const replicaId = replicaMissing ? undefined : idKey(replicaReal);
  if (sourceReal === replicaReal || sourceId === replicaId) {
    throw new RefusedError(
      `source and replica are the same folder: ${sourceReal}${sourceReal === replicaReal ? '' : ` (also reached as ${replicaReal})`}`,
    );
  }
  if (isWithinUsing(replicaReal, sourceReal, sourceId, mounts)) {
    throw new RefusedError(`replica ${replicaReal} is inside the source ${sourceReal}`);
  }
  if (isWithinUsing(sourceReal, replicaReal, replicaId, mounts)) {
    throw new RefusedError(`source ${sourceReal} is inside the replica ${replicaReal}`);
  }

  const paths: PassPaths = { source: sourceReal, replica: replicaReal, replicaMissing, sourceId };
  if (replicaId !== undefined) paths.replicaId = replicaId;
  if (log !== undefined) paths.log = checkLogPath(log, paths, { sourceId, replicaId, mounts });
  return paths;
}

/**
 * The log file guard: the log is appended to while the pass reads the source and writes the replica, so it must
 * be neither inside them (where it is or where it would be created, links followed, dangling ones too), nor a
 * second name of one of their files (a hard link), nor anything but a regular file (a FIFO would hang the pass,
 * a device would swallow or refuse it). Returns the absolute path to open.
 */
function checkLogPath(
  log: string,
  paths: PassPaths,
  ids: { sourceId: string; replicaId: string | undefined; mounts: readonly MountEntry[] },
): string {
  if (log.trim() === '') throw new RefusedError('log file path is empty');
  const logAbs = resolve(log);
  const logReal = resolveEventual(logAbs);
  if (isWithinUsing(logReal, paths.source, ids.sourceId, ids.mounts))
    throw new RefusedError(`log file ${logAbs} is inside the source ${paths.source}`);
  if (isWithinUsing(logReal, paths.replica, ids.replicaId, ids.mounts))
    throw new RefusedError(`log file ${logAbs} is inside the replica ${paths.replica}`);
  let st;
  try {
    st = statSync(logReal, { bigint: true });
  } catch {
    return logAbs; // does not exist yet: created at logReal, which is checked above
  }
  if (st.isDirectory()) throw new RefusedError(`log file is a folder: ${logAbs}`);
  if (!st.isFile()) throw new RefusedError(`log file is not a regular file (a FIFO, device or socket): ${logAbs}`);
  if (st.nlink > 1n) {
    // Another name of this file could be inside a tree; finding it would mean walking both, so on their file
    // systems a hard-linked log is refused outright.
    for (const [side, root] of [
      ['source', paths.source],
      ['replica', paths.replica],
    ] as const) {
      let dev: bigint | undefined;
      try {
        dev = statSync(root, { bigint: true }).dev;
      } catch {
        continue; // a replica still to be created: its parent's device is checked below
      }
      if (dev === st.dev) {
        throw new RefusedError(`log file ${logAbs} has other hard links on the ${side}'s file system; it could be one of its files`);
      }
    }
    if (paths.replicaMissing && statSync(nearestExisting(paths.replica), { bigint: true }).dev === st.dev) {
      throw new RefusedError(`log file ${logAbs} has other hard links on the replica's file system; it could be one of its files`);
    }
  }
  return logAbs;
}
