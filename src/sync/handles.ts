/**
 * The descriptors under the access layer (access.ts): what an opened entry is (device, inode), the error when an
 * entry is no longer the one listed or opened, and the checked opens themselves. `procFd`: the layer's 'fd' mode
 * (folders as Linux O_PATH handles, named through `/proc/self/fd`); otherwise its portable 'path' mode.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, statSync, type BigIntStats } from 'node:fs';
import type { Entry } from './entry.js';

/** Linux O_PATH: a handle that designates a folder without reading it (not in fs.constants). */
export const O_PATH = 0o10000000;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
export const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
export const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

export const BIG = { bigint: true } as const;

/** An entry was replaced (by a link, or another folder or file) since it was listed or opened: nothing goes through it. */
export class EntryChangedError extends Error {
  readonly code = 'ECHANGED';
  constructor(
    readonly path: string,
    what = 'it was replaced while the pass ran (by a link or another entry)',
    after = 'nothing was read or written through it',
  ) {
    super(`${what}; ${after}`);
  }
}

export interface Identity {
  dev: bigint;
  ino: bigint;
}

export const sameIdentity = (a: Identity, b: Identity): boolean => a.dev === b.dev && a.ino === b.ino;
export const identityKey = (id: Identity): string => `${id.dev}:${id.ino}`;

/** A folder's descriptor: O_PATH ('fd' mode), a read descriptor that pins the inode, or -1 where none can be had. */
export function openDir(path: string, noFollow: boolean, procFd: boolean): number {
  const follow = noFollow ? O_NOFOLLOW : 0;
  if (procFd) return openSync(path, O_PATH | O_DIRECTORY | follow);
  if (process.platform === 'win32') {
    const st = noFollow ? lstatSync(path) : statSync(path);
    if (!st.isDirectory()) throw Object.assign(new Error(`not a directory: ${path}`), { code: st.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR' });
    return -1; // no descriptor for a folder on Windows: identity checks only
  }
  try {
    return openSync(path, constants.O_RDONLY | O_DIRECTORY | follow);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    // A folder its owner locked (mode 0): no descriptor until it is opened up; identity checks only meanwhile.
    const st = noFollow ? lstatSync(path) : statSync(path);
    if (!st.isDirectory()) throw Object.assign(new Error(`not a directory: ${path}`), { code: st.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR' });
    return -1;
  }
}

/**
 * Open the folder `at()` names without following its last name, and check it: a link, a file, or (with
 * `expected`, the listing's inode) another folder in its place throws EntryChangedError naming `shown`.
 * `at` is asked again for the stat where there is no descriptor.
 */
export function openDirChecked(
  at: () => string,
  shown: string,
  expected: Pick<Entry, 'ino'> | undefined,
  procFd: boolean,
): { fd: number; stat: BigIntStats } {
  let fd: number;
  try {
    fd = openDir(at(), true, procFd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new EntryChangedError(shown);
    throw error;
  }
  const stat = fd >= 0 ? fstatSync(fd, BIG) : lstatSync(at(), BIG);
  if (!stat.isDirectory() || (expected?.ino !== undefined && stat.ino !== expected.ino)) {
    closeFd(fd);
    throw new EntryChangedError(shown);
  }
  return { fd, stat };
}

/**
 * Open the regular file `at()` names for reading: no link followed, no FIFO waited on. `expected` (the listing's
 * inode): a file that is not that one any more, or not a regular file, throws EntryChangedError naming `shown`.
 */
export function openFileChecked(at: () => string, shown: string, expected: Pick<Entry, 'ino'> | undefined): { fd: number; stat: BigIntStats } {
  let fd: number;
  try {
    fd = openSync(at(), constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new EntryChangedError(shown);
    throw error;
  }
  const stat = fstatSync(fd, BIG);
  if (!stat.isFile() || (expected?.ino !== undefined && stat.ino !== expected.ino)) {
    closeSync(fd);
    throw new EntryChangedError(shown);
  }
  return { fd, stat };
}

/** Open a root folder (source or replica) by the path the user gave: links in it are followed on purpose. */
export function openRootDir(path: string, procFd: boolean): { fd: number; stat: BigIntStats } {
  const fd = openDir(path, false, procFd);
  const stat = fd >= 0 ? fstatSync(fd, BIG) : statSync(path, BIG);
  if (!stat.isDirectory()) {
    closeFd(fd);
    throw Object.assign(new Error(`not a directory: ${path}`), { code: 'ENOTDIR' });
  }
  return { fd, stat };
}

export function closeFd(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
