/**
 * Where a path is, by identity rather than spelling: the real path it will resolve to once created, its folder's
 * (device, inode) and those above it, its place under the mount table; so the guards (path-guards.ts,
 * versions/guards.ts) see nesting through links and bind mounts.
 */
import { lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { RefusedError } from '../errors.js';

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
export function idKey(path: string): string {
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

export interface MountEntry {
  device: string;
  root: string;
  mountPoint: string;
}

/** Linux mount table of this process (/proc/self/mountinfo); empty elsewhere. */
export function readMounts(): MountEntry[] {
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
 * Using `outer`'s identity and the mount table as the caller already read them (isWithin reads them itself).
 */
export function isWithinUsing(inner: string, outer: string, outerId: string | undefined, mounts: readonly MountEntry[]): boolean {
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
  return isWithinUsing(inner, outer, outerId, readMounts());
}

/** Are `a` and `b` one existing folder (same device and inode), whatever path names each? */
export function sameFolder(a: string, b: string): boolean {
  try {
    return idKey(a) === idKey(b);
  } catch {
    return false;
  }
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
