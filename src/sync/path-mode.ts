/**
 * The access layer's portable 'path' mode (access.ts; macOS, Windows, Linux without /proc), where no call can
 * name an entry relative to a folder's descriptor: a folder's path checked against its identity, and a rename
 * between two folders made through the working folder pinned in each.
 */
import { lstatSync, renameSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { BIG, EntryChangedError, sameIdentity, type Identity } from './handles.js';
import { tempName } from './temp.js';

/** An opened folder as 'path' mode uses it (access.ts OpenFolder). */
interface PathFolder extends Identity {
  readonly path: string;
  /** Move the working folder into it, checked against its identity. */
  pin(): void;
}

/** The folder's path must still lead to it (only where no descriptor can do the job: Windows). */
export function checkFolderPath(folder: Identity & { readonly path: string }): void {
  let st: BigIntStats;
  try {
    st = lstatSync(folder.path, BIG);
  } catch {
    throw new EntryChangedError(folder.path, 'the folder was moved or removed while the pass ran');
  }
  if (!st.isDirectory() || !sameIdentity(st, folder)) throw new EntryChangedError(folder.path, 'the folder was replaced while the pass ran');
}

/**
 * Rename `from` in folder `source` to `to` in `into`. There is no name relative to a second folder: the
 * destination is the pinned (checked) working folder, and the source is first renamed, inside `source` pinned,
 * to a fresh temporary name that no folder a swap could lead to holds; then moved by `source`'s path. Swapped
 * meanwhile, that path finds nothing (ENOENT) and the entry is put back: nothing outside is moved.
 */
export function renameAcrossByPath(source: PathFolder, from: string, to: string, into: PathFolder): void {
  source.pin();
  const hop = tempName();
  renameSync(from, hop);
  try {
    into.pin();
    renameSync(join(source.path, hop), to);
  } catch (error) {
    source.pin();
    try {
      renameSync(hop, from);
    } catch {
      // the folder is gone: nothing to put back
    }
    throw error;
  }
}
