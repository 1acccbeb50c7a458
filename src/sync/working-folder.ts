/**
 * The process's working folder, which the access layer moves into an opened folder so that bare names resolve
 * inside it (access.ts's top says when and why): which folder it is pinned to, and the caller's own, saved at the
 * first pin and put back exactly by `unpinWorkingFolder()`.
 */
import { closeSync, statSync } from 'node:fs';
import { BIG, EntryChangedError, openDir, sameIdentity, type Identity } from './handles.js';

/** An opened folder the working folder can be pinned to (an OpenFolder, access.ts). */
export interface PinnableFolder extends Identity {
  readonly fd: number;
  readonly path: string;
}

let pinned: PinnableFolder | undefined;
/** The caller's working folder while one of ours is pinned: a descriptor ('fd') or a path ('path'). */
let home: { fd?: number; path?: string } | undefined;

function saveHome(byFd: boolean): void {
  if (home) return;
  if (byFd) {
    try {
      home = { fd: openDir('.', false, true) }; // O_PATH
      return;
    } catch {
      // fall through: by path
    }
  }
  try {
    home = { path: process.cwd() };
  } catch {
    home = {}; // the caller's folder is gone: nothing to go back to
  }
}

/** Give the process its working folder back (before an await, and at the end of a pass). Idempotent. */
export function unpinWorkingFolder(): void {
  if (!home) return;
  const saved = home;
  home = undefined;
  pinned = undefined;
  try {
    if (saved.fd !== undefined) process.chdir(`/proc/self/fd/${saved.fd}`);
    else if (saved.path !== undefined) process.chdir(saved.path);
  } catch {
    // the caller's folder went away meanwhile; stay where we are
  } finally {
    if (saved.fd !== undefined) closeSync(saved.fd);
  }
}

/** Is the working folder pinned to `folder` (bare names resolve inside it)? */
export function isPinned(folder: PinnableFolder): boolean {
  return pinned === folder;
}

/**
 * Move the working folder into `folder`, the caller's saved first: through its handle (`byFd`: 'fd' mode), or by
 * its path and then checked against the folder's (device, inode) ('path' mode).
 */
export function pinWorkingFolder(folder: PinnableFolder, byFd: boolean): void {
  saveHome(byFd);
  pinned = undefined;
  if (byFd) {
    process.chdir(`/proc/self/fd/${folder.fd}`);
  } else {
    process.chdir(folder.path);
    if (!sameIdentity(statSync('.', BIG), folder)) throw new EntryChangedError(folder.path, 'the folder was replaced while the pass ran');
  }
  pinned = folder;
}

/** A folder closed is no longer the pinned one (the working folder may stay in it until the next pin or unpin). */
export function forgetPin(folder: PinnableFolder): void {
  if (pinned === folder) pinned = undefined;
}
