/**
 * The check a copy helper's thread makes before each file of a batch (copy-batch.ts): that the replica folder is
 * still in the folder it was opened in, and so each folder above it that someone else could move (walk-replica.ts
 * `guardsOf` writes them, `Place.above` says which). A folder moved away takes the walk's handle with it, and what
 * is written through that handle would land wherever it went.
 */
import { lstatSync } from 'node:fs';
import { rawLstat } from './raw-lstat.js';

/** Guards parsed into the path to lstat and the identity it must show, once per batch (its guards string). */
let last: { text: string; parsed: [string, string][] } | undefined;

/** Does each `fd:dev:ino` of `guards` (comma-separated) still hold: the `..` of that handle is that folder? */
export function guardsHold(guards: string): boolean {
  if (last?.text !== guards) {
    const parsed = guards.split(',').map((g): [string, string] => {
      const [fd, ...id] = g.split(':');
      return [`/proc/self/fd/${fd}/..`, id.join(':')];
    });
    last = { text: guards, parsed };
  }
  for (const [path, id] of last.parsed) {
    try {
      // The raw lstat where it reads exactly (raw-lstat.ts; no Stats object per file), else lstatSync's.
      const up = rawLstat(path) ?? lstatSync(path, { bigint: true });
      if (`${up.dev}:${up.ino}` !== id) return false;
    } catch {
      return false;
    }
  }
  return true;
}
