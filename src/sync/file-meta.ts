/**
 * A file's mode, times and owner, set in place by the access layer (`OpenFolder.setFileMeta`, access.ts) through
 * a descriptor checked against the listing, so a link swapped in since is never followed.
 */
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, futimesSync, lstatSync, openSync, utimesSync } from 'node:fs';
import { BIG, EntryChangedError, O_NOFOLLOW, O_NONBLOCK, O_PATH } from './handles.js';
import type { Entry } from './entry.js';
import { timeArg } from './times.js';

export interface FileMeta {
  mode?: number;
  atimeMs?: number;
  mtimeMs?: number;
  uid?: number;
  gid?: number;
}

/**
 * Change the regular file `at()` names (shown as `shown`): opened first (O_NOFOLLOW; with `procFd`, the layer's
 * 'fd' mode, O_PATH, so no read permission is needed), checked against the listing, and changed through that
 * descriptor. 'path' mode needs read permission for that; without it (a non-root owner's mode-0 file) the name
 * `at()` gives is used after an lstat check.
 */
export function setFileMetaAt(at: () => string, shown: string, expected: Pick<Entry, 'ino'> | undefined, meta: FileMeta, procFd: boolean): void {
  const flags = procFd ? O_PATH | O_NOFOLLOW : constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(at(), flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new EntryChangedError(shown);
    if (code !== 'EACCES' || procFd) throw error;
    const st = lstatSync(at(), BIG);
    if (!st.isFile() || (expected?.ino !== undefined && st.ino !== expected.ino)) throw new EntryChangedError(shown);
    applyMeta(at(), undefined, meta);
    return;
  }
  try {
    const st = fstatSync(fd, BIG);
    if (!st.isFile() || (expected?.ino !== undefined && st.ino !== expected.ino)) throw new EntryChangedError(shown);
    if (procFd) applyMeta(`/proc/self/fd/${fd}`, undefined, meta);
    else applyMeta(undefined, fd, meta);
  } finally {
    closeSync(fd);
  }
}

/** Set what `meta` holds on a file, by path or by descriptor (owner first: chown clears setuid/setgid bits). */
function applyMeta(path: string | undefined, fd: number | undefined, meta: FileMeta): void {
  if (meta.uid !== undefined && meta.gid !== undefined) {
    if (fd !== undefined) fchownSync(fd, meta.uid, meta.gid);
    else chownSync(path as string, meta.uid, meta.gid);
  }
  if (meta.mode !== undefined) {
    if (fd !== undefined) fchmodSync(fd, meta.mode);
    else chmodSync(path as string, meta.mode);
  }
  if (meta.atimeMs !== undefined && meta.mtimeMs !== undefined) {
    if (fd !== undefined) futimesSync(fd, timeArg(meta.atimeMs), timeArg(meta.mtimeMs));
    else utimesSync(path as string, timeArg(meta.atimeMs), timeArg(meta.mtimeMs));
  }
}
