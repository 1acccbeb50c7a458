/**
 * The check a copy helper's thread makes before each file of a batch (copy-batch.ts): that the replica folder is
 * still in the folder it was opened in, and so each folder above it that someone else could move (walk-replica.ts
 * `guardsOf` writes them, `Place.above` says which). A folder moved away takes the walk's handle with it, and what
 * is written through that handle would land wherever it went.
 *
 * With folders above to check, the quick way first (`whereNow`): the folder's path as the kernel spells it now,
 * one `readlink`, against the path it had when every link was last checked one by one. A path unchanged means
 * neither it nor any folder above it has moved (one namespace holds one place per path); a path changed (or
 * not known yet) means the links are checked one by one, and their result decides (a rename above the replica,
 * or of a folder within its own parent, changes the path and moves nothing out).
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
  /** The folder whose path stands for the whole chain (-1: none, one link only). */
  fd: number;
  links: [number, string][];
  /** Its path when the links last held. */
  seen?: Buffer;
}

/** Guards parsed, per batch (a new batch checks its links one by one first). */
const parsed = new WeakMap<object, Parsed>();

/**
 * Do the guards of a batch (`job`, its `guards`: `<fd>;<fd>:<dev>:<ino>,...`, walk-replica.ts `guardsOf`) still
 * hold?
 */
export function guardsHold(job: { guards: string }): boolean {
  let p = parsed.get(job);
  if (!p) {
    const [head, list] = job.guards.split(';') as [string, string];
    const links = list.split(',').map((g): [number, string] => {
      const [fd, ...id] = g.split(':');
      return [Number(fd), id.join(':')];
    });
    p = { fd: head === '' ? -1 : Number(head), links };
    parsed.set(job, p);
  }
  const now = p.fd >= 0 ? whereNow(p.fd) : undefined;
  if (now && p.seen?.equals(now)) return true;
  if (!p.links.every(([fd, id]) => parentIs(fd, id))) return false;
  p.seen = now;
  return true;
}
