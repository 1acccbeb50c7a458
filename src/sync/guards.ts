import { accessSync, constants, lstatSync, opendirSync, readFileSync, readlinkSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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
  /** "dev:ino" of the source and (existing) replica folder as checked: the pass opens exactly these. */
  sourceId?: string;
  replicaId?: string;
}

/** True when `child` is `parent` or below it (both absolute, resolved). */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(prefix);
}

/** How many symlinks a path may pass through before it counts as a loop (Linux's own limit). */
const MAX_LINKS = 40;

/**
 * Where a path will resolve once created: the real path of its nearest existing ancestor with the missing tail
 * appended, following links all the way, dangling ones included (a log named through a dangling link is
 * created at the link's target, so that is where it must be checked).
 */
export function resolveEventual(path: string): string {
  let abs = resolve(path);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    const tail: string[] = [];
    let cur = abs;
    let relinked = false;
    for (;;) {
      let st;
      try {
        st = lstatSync(cur);
      } catch {
        const parent = dirname(cur);
        if (parent === cur) return abs;
        tail.push(basename(cur));
        cur = parent;
        continue;
      }
      try {
        return join(realpathSync(cur), ...tail.reverse());
      } catch {
        if (!st.isSymbolicLink()) throw new RefusedError(`path cannot be resolved: ${abs}`);
        // A dangling link: continue from its target (relative to the link's folder).
        abs = join(resolve(dirname(cur), readlinkSync(cur)), ...tail.reverse());
        relinked = true;
        break;
      }
    }
    if (!relinked) return abs;
  }
  throw new RefusedError(`too many levels of symbolic links: ${resolve(path)}`);
}

/** (device, inode) of a folder, as a key. */
function idKey(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/** Identity keys of a real path's nearest existing folder and of every folder above it up to /. */
function ancestorIds(real: string): string[] {
  const out: string[] = [];
  let cur = real;
  for (;;) {
    try {
      out.push(idKey(cur));
    } catch {
      // missing (an eventual path) or unreadable: its parents still count
    }
    const parent = dirname(cur);
    if (parent === cur) return out;
    cur = parent;
  }
}

interface MountEntry {
  device: string;
  root: string;
  mountPoint: string;
}

/** Linux mount table of this process (/proc/self/mountinfo); empty elsewhere. */
function readMounts(): MountEntry[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    out.push({ device: f[2] as string, root: unescape(f[3] as string), mountPoint: unescape(f[4] as string) });
  }
  return out;
}

/**
 * A real path as a place inside its file system: the device and the path from that file system's own root.
 * Through a bind mount, two different paths to one folder give the same place, so nesting is seen whatever
 * path each side was named by. The mount whose point is the longest prefix wins; of equal ones the last
 * (it is mounted on top).
 */
function fsPlace(real: string, mounts: readonly MountEntry[]): { device: string; path: string } | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    if (!isInside(real, m.mountPoint)) continue;
    if (!best || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  if (!best) return undefined;
  return { device: best.device, path: join(best.root, relative(best.mountPoint, real)) };
}

/**
 * Is `inner` the same folder as `outer` or inside it, by identity rather than spelling? True when `outer`'s
 * (device, inode) is `inner`'s or one of its ancestors', or (Linux) when both are the same place of the same
 * file system under any mounts (a bind mount of a subfolder has no ancestor in common with its original).
 */
function within(inner: string, outer: string, outerId: string | undefined, mounts: readonly MountEntry[]): boolean {
  if (isInside(inner, outer)) return true;
  if (outerId !== undefined && ancestorIds(inner).includes(outerId)) return true;
  const a = fsPlace(inner, mounts);
  const b = fsPlace(outer, mounts);
  return a !== undefined && b !== undefined && a.device === b.device && isInside(a.path, b.path);
}

/**
 * For the other folders a pass writes to (`--versions`): is `inner` the same folder as `outer` or inside it, by
 * identity and the mount table (bind mounts), not by spelling? Either may not exist yet (eventual real paths).
 */
export function isWithin(inner: string, outer: string): boolean {
  let outerId: string | undefined;
  try {
    outerId = idKey(outer);
  } catch {
    outerId = undefined; // not there yet: its spelling and its place in the mount table still count
  }
  return within(inner, outer, outerId, readMounts());
}

/** Are `a` and `b` one existing folder (same device and inode), whatever path names each? */
export function sameFolder(a: string, b: string): boolean {
  try {
    return idKey(a) === idKey(b);
  } catch {
    return false;
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

  // Identity, not spelling: bind mounts and other second paths to one folder are caught both ways.
  const mounts = readMounts();
  const sourceId = idKey(sourceReal);
  const replicaId = replicaMissing ? undefined : idKey(replicaReal);
  if (sourceReal === replicaReal || sourceId === replicaId) {
    throw new RefusedError(
      `source and replica are the same folder: ${sourceReal}${sourceReal === replicaReal ? '' : ` (also reached as ${replicaReal})`}`,
    );
  }
  if (within(replicaReal, sourceReal, sourceId, mounts)) {
    throw new RefusedError(`replica ${replicaReal} is inside the source ${sourceReal}`);
  }
  if (within(sourceReal, replicaReal, replicaId, mounts)) {
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
  if (within(logReal, paths.source, ids.sourceId, ids.mounts)) throw new RefusedError(`log file ${logAbs} is inside the source ${paths.source}`);
  if (within(logReal, paths.replica, ids.replicaId, ids.mounts)) throw new RefusedError(`log file ${logAbs} is inside the replica ${paths.replica}`);
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

/** The nearest folder that exists at or above `path` (a replica, versions folder or log may not exist yet). */
export function nearestExisting(path: string): string {
  let cur = path;
  for (;;) {
    try {
      statSync(cur);
      return cur;
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return cur;
      cur = parent;
    }
  }
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
