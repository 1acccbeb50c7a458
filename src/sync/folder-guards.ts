/**
 * The check a copy helper's thread makes before each file of a batch (copy-batch.ts): that the replica folder is
 * still in the folder it was opened in, and so each folder above it that someone else could move (walk-replica.ts
 * `guardsOf` writes them, `Place.above` says which). A folder moved away takes the walk's handle with it, and what
 * is written through that handle would land wherever it went.
 *
 * The quick way first, where the folder's path is known (`Place.path`: the replica top's real path and the names
 * down to it, when no one else can move the top or any folder above it): the folder's path as the kernel spells it
 * now (`whereNow`, one `readlink`) is that very path, so the folder is where it belongs, and every folder above it
 * too (one place per path in a mount namespace). Else each link is checked, one `lstat` of `..` each. Nothing is
 * learned from an earlier look: a path read at another moment than the links were checked proves nothing (review
 * 16: a path read while a folder was out, then trusted, let the rest of a folder's files land outside).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { rawLstat } from './raw-lstat.js';

/** Where the folder behind descriptor `fd` is now: its path, as bytes (exact whatever its encoding); undefined where unknown. */
export function whereNow(fd: number): Buffer | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' });
  } catch {
    return undefined;
  }
}

/** Is `..` of the descriptor `fd` the folder `id` (`dev:ino`)? Any error: no. */
export function parentIs(fd: number, id: string): boolean {
  const path = `/proc/self/fd/${fd}/..`;
  try {
    // The raw lstat where it reads exactly (raw-lstat.ts; no Stats object per file), else lstatSync's.
    const up = rawLstat(path) ?? lstatSync(path, { bigint: true });
    return `${up.dev}:${up.ino}` === id;
  } catch {
    return false;
  }
}

interface Parsed {
  links: [number, string][];
  /** The folder's path where it belongs, as bytes (undefined: not known). */
  path?: Buffer;
}

/** Guards parsed once per batch. */
const parsed = new WeakMap<object, Parsed>();

/**
 * Do the guards of a batch still hold (`job.guards`: `<fd>:<dev>:<ino>,...`; `job.path`, the replica folder's path
 * where known; walk-replica.ts `guardsOf`)?
 */
export function guardsHold(job: { guards: string; path: string; dstFd: number }): boolean {
  let p = parsed.get(job);
  if (!p) {
    const links = job.guards.split(',').map((g): [number, string] => {
      const [fd, ...id] = g.split(':');
      return [Number(fd), id.join(':')];
    });
    p = job.path === '' ? { links } : { links, path: Buffer.from(job.path) };
    parsed.set(job, p);
  }
  if (p.path && whereNow(job.dstFd)?.equals(p.path)) return true;
  return p.links.every(([fd, id]) => parentIs(fd, id));
}
