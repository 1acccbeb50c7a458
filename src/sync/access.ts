/**
 * The access layer: every read of the source and every change to the replica goes through an `OpenFolder`, a
 * folder opened once (O_DIRECTORY, O_NOFOLLOW below the root) and then used by *name*, never by a path that the
 * kernel would resolve again. A folder swapped for a link or for another folder after it was opened cannot
 * redirect anything: the handle still designates the folder that was opened and checked.
 *
 * How a name is resolved relative to a handle in pure Node (there are no *at calls):
 * - 'fd' (Linux): the process's working folder is pinned to the handle with `chdir('/proc/self/fd/<fd>')` (the
 *   kernel follows that magic link to exactly the opened folder, like fchdir), and calls take bare names. The
 *   handle is an O_PATH descriptor, so folders the user may not read can still be opened and chmodded.
 *   Cross-folder renames use `/proc/self/fd/<fd>/<name>` for the other side.
 * - 'path' (macOS, Windows, Linux without /proc): the working folder is moved with `chdir(path)` and then
 *   checked with `stat('.')` against the opened folder's (device, inode); the open descriptor keeps that
 *   inode from being reused, so a match means it is the same folder. Windows has no such descriptors for
 *   folders: there the check is made, but a swap between the check and the call is not excluded.
 * Measured choice (docs/security.md): pinning the working folder is as fast as today's listing by chdir,
 * while `/proc/self/fd/<fd>/<name>` paths for every lstat cost ~80% more on a 20k-entry walk.
 *
 * The working folder belongs to the pass only between awaits: `unpinWorkingFolder()` puts the caller's back
 * (exactly, through a descriptor) and the engine calls it before every await and at the end of a pass.
 * Everything here is synchronous. And only in the CLI (allowChdirListing, entry.ts): a program that embeds
 * syncOnce keeps its working folder; there every name goes through `/proc/self/fd/<fd>/<name>` ('fd' mode,
 * as safe, slower listings) or a checked path ('path' mode: a swap between the check and the call is not
 * excluded there).
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  fstatSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  type BigIntStats,
} from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { chdirAllowed, entryFromStats, listIn, type Entry, type Listing } from './entry.js';
import { tempName } from './temp.js';

export type AccessMode = 'fd' | 'path';

/** Linux O_PATH: a handle that designates a folder without reading it (not in fs.constants). */
const O_PATH = 0o10000000;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

function defaultMode(): AccessMode {
  if (process.env['FOLDER_SYNC_ACCESS'] === 'path') return 'path';
  return process.platform === 'linux' && isMainThread && existsSync('/proc/self/fd') ? 'fd' : 'path';
}

let mode: AccessMode = defaultMode();

/** The mechanism in use ('fd' on Linux). */
export function accessMode(): AccessMode {
  return mode;
}

/** Tests: run the layer in the portable 'path' mode on Linux too. Only between passes. */
export function setAccessMode(next: AccessMode): void {
  unpinWorkingFolder();
  mode = next;
}

/** An entry was replaced (by a link, or another folder or file) since it was listed or opened: nothing goes through it. */
export class EntryChangedError extends Error {
  readonly code = 'ECHANGED';
  constructor(
    readonly path: string,
    what = 'it was replaced while the pass ran (by a link or another entry)',
  ) {
    super(`${what}; nothing was read or written through it`);
  }
}

export interface Identity {
  dev: bigint;
  ino: bigint;
}

export const sameIdentity = (a: Identity, b: Identity): boolean => a.dev === b.dev && a.ino === b.ino;
export const identityKey = (id: Identity): string => `${id.dev}:${id.ino}`;

// ---------------------------------------------------------------------------------------------------------
// The working folder

let pinned: OpenFolder | undefined;
/** The caller's working folder while one of ours is pinned: a descriptor ('fd') or a path ('path'). */
let home: { fd?: number; path?: string } | undefined;

function saveHome(): void {
  if (home) return;
  if (mode === 'fd') {
    try {
      home = { fd: openSync('.', O_PATH | O_DIRECTORY) };
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

// ---------------------------------------------------------------------------------------------------------
// OpenFolder

const BIG = { bigint: true } as const;

/** A folder opened once; every operation names an entry *inside* it. Close it when done (handles are finite). */
export class OpenFolder implements Identity {
  private closed = false;

  private constructor(
    /** O_PATH descriptor ('fd' mode) or a read descriptor that pins the inode ('path' mode; -1 on Windows). */
    readonly fd: number,
    readonly dev: bigint,
    readonly ino: bigint,
    /** The path it was reached by: for messages, and for 'path' mode's checked chdir. */
    readonly path: string,
  ) {}

  /** Open a root (source or replica) by the path the user gave; links in that path are followed on purpose. */
  static openRoot(path: string): OpenFolder {
    const fd = openDir(path, false);
    const st = fstatOrStat(fd, path);
    if (!st.isDirectory()) {
      closeFd(fd);
      throw Object.assign(new Error(`not a directory: ${path}`), { code: 'ENOTDIR' });
    }
    return new OpenFolder(fd, st.dev, st.ino, path);
  }

  /**
   * Open the folder at `path` without following its last name: `path` is `/proc/self/fd/<fd>/<name>` of an
   * opened parent ('fd' mode, see `io`), so nothing before the last name is re-resolved either. `expected` (the
   * listing's inode): a link, a file or another folder in its place throws EntryChangedError.
   */
  static openNoFollow(path: string, expected?: Pick<Entry, 'ino'>): OpenFolder {
    let fd: number;
    try {
      fd = openDir(path, true);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new EntryChangedError(path);
      throw error;
    }
    const st = fd >= 0 ? fstatSync(fd, BIG) : lstatSync(path, BIG);
    if (!st.isDirectory() || (expected?.ino !== undefined && st.ino !== expected.ino)) {
      closeFd(fd);
      throw new EntryChangedError(path);
    }
    return new OpenFolder(fd, st.dev, st.ino, path);
  }

  /**
   * A path that designates this very folder for path-taking code (apply.ts, filters, --checksum's helper
   * thread): `/proc/self/fd/<fd>` in 'fd' mode, so `join(io, name)` names an entry of the opened folder and
   * only `name` is resolved; the folder's path in 'path' mode (no such links there).
   */
  get io(): string {
    return mode === 'fd' ? `/proc/self/fd/${this.fd}` : this.path;
  }

  /**
   * Open the folder `name` inside this one without following a link. `expected` (the listing's inode): a
   * folder that is not that one any more throws EntryChangedError, as does a link or file in its place.
   */
  openChild(name: string, expected?: Pick<Entry, 'ino'>): OpenFolder {
    let fd: number;
    try {
      fd = openDir(this.at(name), true);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new EntryChangedError(join(this.path, name));
      throw error;
    }
    const st = fd >= 0 ? fstatSync(fd, BIG) : lstatSync(this.at(name), BIG);
    if (!st.isDirectory() || (expected?.ino !== undefined && st.ino !== expected.ino)) {
      closeFd(fd);
      throw new EntryChangedError(join(this.path, name));
    }
    return new OpenFolder(fd, st.dev, st.ino, join(this.path, name));
  }

  /**
   * How to name `name` inside this folder for one call. 'fd' mode: the bare name when the working folder is
   * pinned here, else `/proc/self/fd/<fd>/<name>` (the magic link pins the folder; the last name is not
   * followed by the calls that must not follow it), so single calls never move the working folder back and
   * forth between the two trees. 'path' mode: the working folder is pinned here (checked) and the name is bare.
   */
  private at(name: string): string {
    if (mode === 'fd') {
      if (this.closed) throw new Error(`internal: ${this.path} is used after close`);
      return pinned === this ? name : `/proc/self/fd/${this.fd}/${name}`;
    }
    if (!chdirAllowed()) {
      // An embedder's process: its working folder is not ours to move; a checked path (see the file's top).
      this.checkPath();
      return join(this.path, name);
    }
    this.pin();
    return name;
  }

  /** Move the process's working folder into this folder (checked), so bare names resolve inside it. */
  pin(): void {
    if (pinned === this) return;
    if (this.closed) throw new Error(`internal: ${this.path} is used after close`);
    saveHome();
    pinned = undefined;
    if (mode === 'fd') {
      process.chdir(`/proc/self/fd/${this.fd}`);
    } else {
      process.chdir(this.path);
      if (!sameIdentity(statSync('.', BIG), this)) throw new EntryChangedError(this.path, 'the folder was replaced while the pass ran');
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the module records which folder the working folder is pinned to
    pinned = this;
  }

  /**
   * About to act on several entries of this folder (a copy: temporary, rename): in the CLI on Linux, pin the
   * working folder here, so those calls take bare names instead of a `/proc/self/fd` lookup each (measured: the
   * lookups made an initial copy of 100k small files 36% slower). Elsewhere `at` already does what it can.
   */
  workIn(): void {
    if (mode === 'fd' && chdirAllowed()) this.pin();
  }

  /**
   * Is this folder still directly inside `parent`, i.e. not moved out of its tree since it was opened? A folder
   * has one parent, so `..` tells; a folder renamed within its parent is still inside the tree and is fine.
   */
  stillIn(parent: Identity): boolean {
    try {
      const st = this.lstat('..');
      return st.isDirectory() && sameIdentity(st, parent);
    } catch {
      return false;
    }
  }

  /** 'path' mode: the folder's path must still lead to it (only where no descriptor can do the job: Windows). */
  private checkPath(): void {
    let st: BigIntStats;
    try {
      st = lstatSync(this.path, BIG);
    } catch {
      throw new EntryChangedError(this.path, 'the folder was moved or removed while the pass ran');
    }
    if (!st.isDirectory() || !sameIdentity(st, this)) throw new EntryChangedError(this.path, 'the folder was replaced while the pass ran');
  }

  /**
   * Run a call that takes a path on this folder itself (chmod, utimes, chown): 'fd' mode through the magic link;
   * 'path' mode on the open descriptor (`onFd`); with no descriptor (Windows), on the checked path.
   */
  private onSelf<T>(byPath: (path: string) => T, onFd: (fd: number) => T): T {
    if (mode === 'fd') return byPath(`/proc/self/fd/${this.fd}`);
    if (this.fd >= 0) return onFd(this.fd);
    this.checkPath();
    return byPath(this.path);
  }

  /** Every entry (sorted by name, not followed); entries that could not be looked at are listed as issues. */
  list(): Listing {
    if (!chdirAllowed()) {
      // Not the CLI: no working folder to pin (an embedder's), names through the handle instead (slower).
      if (mode === 'fd') return listIn(`/proc/self/fd/${this.fd}`);
      this.checkPath();
      return listIn(this.path);
    }
    try {
      this.pin();
    } catch (error) {
      // Readable but not searchable (r--): its names can still be read through the handle, and each one
      // is then an issue (its lstat is denied), so the replica's copies stay, as before the handles.
      if ((error as NodeJS.ErrnoException).code !== 'EACCES' || mode !== 'fd') throw error;
      return listIn(`/proc/self/fd/${this.fd}`);
    }
    return listIn('');
  }

  lstat(name: string): BigIntStats {
    return lstatSync(this.at(name), BIG);
  }

  /** lstat as an Entry (a symlink's target included). */
  entry(name: string): Entry {
    const path = this.at(name);
    const entry = entryFromStats(name, lstatSync(path, BIG));
    if (entry.type === 'symlink') entry.target = readlinkSync(path);
    return entry;
  }

  /**
   * Open a regular file for reading: no link followed, no FIFO waited on. `expected` (the listing's inode):
   * a file that is not that one any more, or not a regular file, throws EntryChangedError.
   */
  openFile(name: string, expected?: Pick<Entry, 'ino'>): { fd: number; stat: BigIntStats } {
    let fd: number;
    try {
      fd = openSync(this.at(name), constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new EntryChangedError(join(this.path, name));
      throw error;
    }
    const stat = fstatSync(fd, BIG);
    if (!stat.isFile() || (expected?.ino !== undefined && stat.ino !== expected.ino)) {
      closeSync(fd);
      throw new EntryChangedError(join(this.path, name));
    }
    return { fd, stat };
  }

  /** Open `name` for reading without following a link or waiting on a FIFO; no check of what it is (the caller's). */
  openRead(name: string): number {
    return openSync(this.at(name), constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  }

  /** Create a new temporary file (O_EXCL, mode 0600): its name and a write descriptor. */
  createTemp(): { name: string; fd: number } {
    const name = tempName();
    const fd = openSync(this.at(name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
    return { name, fd };
  }

  /** A new temporary symlink; returns its name. */
  createTempLink(target: string): string {
    const name = tempName();
    symlinkSync(target, this.at(name));
    return name;
  }

  /** Rename `from` (in this folder) to `to` in `into` (this folder by default; same file system). */
  rename(from: string, to: string, into: OpenFolder = this): void {
    if (into === this) {
      renameSync(this.at(from), this.at(to));
    } else if (mode === 'fd') {
      renameSync(this.at(from), into.at(to));
    } else {
      this.renameAcrossByPath(from, to, into);
    }
  }

  /**
   * 'path' mode has no name relative to a second folder: the destination is the pinned (checked) working folder,
   * and the source is first renamed, inside this pinned folder, to a fresh temporary name that no folder a swap
   * could lead to holds; then moved by this folder's path. Swapped meanwhile, that path finds nothing (ENOENT)
   * and the entry is put back: nothing outside is moved.
   */
  private renameAcrossByPath(from: string, to: string, into: OpenFolder): void {
    this.pin();
    const hop = tempName();
    renameSync(from, hop);
    try {
      into.pin();
      renameSync(join(this.path, hop), to);
    } catch (error) {
      this.pin();
      try {
        renameSync(hop, from);
      } catch {
        // the folder is gone: nothing to put back
      }
      throw error;
    }
  }

  unlink(name: string): void {
    unlinkSync(this.at(name));
  }

  rmdir(name: string): void {
    rmdirSync(this.at(name));
  }

  /** Create a folder (owner-only until its real mode is set) and open it. */
  mkdir(name: string, mode = 0o700): OpenFolder {
    mkdirSync(this.at(name), mode);
    return this.openChild(name);
  }

  symlink(target: string, name: string): void {
    symlinkSync(target, this.at(name));
  }

  /** This folder's own permission bits, times and owner: through the handle, never a re-resolved path. */
  setMode(mode: number): void {
    this.onSelf(
      (path) => chmodSync(path, mode),
      (fd) => fchmodSync(fd, mode),
    );
  }

  setTimes(atimeMs: number, mtimeMs: number): void {
    this.onSelf(
      (path) => utimesSync(path, timeArg(atimeMs), timeArg(mtimeMs)),
      (fd) => futimesSync(fd, timeArg(atimeMs), timeArg(mtimeMs)),
    );
  }

  setOwner(uid: number, gid: number): void {
    this.onSelf(
      (path) => chownSync(path, uid, gid),
      (fd) => fchownSync(fd, uid, gid),
    );
  }

  /** The folder's own stat, through the handle. */
  stat(): BigIntStats {
    return this.onSelf(
      (path) => statSync(path, BIG),
      (fd) => fstatSync(fd, BIG),
    );
  }

  /**
   * Change a regular file's mode, times or owner in place (the 'meta' step) without following a link swapped in
   * since the listing: the file is opened first (O_NOFOLLOW; 'fd' mode O_PATH, so no read permission is
   * needed), checked against the listing, and changed through that descriptor. 'path' mode needs read
   * permission for that; without it (a non-root owner's mode-0 file) the pinned bare name is used after an
   * lstat check.
   */
  setFileMeta(
    name: string,
    expected: Pick<Entry, 'ino'> | undefined,
    meta: { mode?: number; atimeMs?: number; mtimeMs?: number; uid?: number; gid?: number },
  ): void {
    const flags = mode === 'fd' ? O_PATH | O_NOFOLLOW : constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
    let fd: number;
    try {
      fd = openSync(this.at(name), flags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new EntryChangedError(join(this.path, name));
      if (code !== 'EACCES' || mode === 'fd') throw error;
      const st = lstatSync(this.at(name), BIG);
      if (!st.isFile() || (expected?.ino !== undefined && st.ino !== expected.ino)) throw new EntryChangedError(join(this.path, name));
      applyMeta(this.at(name), undefined, meta);
      return;
    }
    try {
      const st = fstatSync(fd, BIG);
      if (!st.isFile() || (expected?.ino !== undefined && st.ino !== expected.ino)) throw new EntryChangedError(join(this.path, name));
      if (mode === 'fd') applyMeta(`/proc/self/fd/${fd}`, undefined, meta);
      else applyMeta(undefined, fd, meta);
    } finally {
      closeSync(fd);
    }
  }

  /** A link's own owner and times (never its target's). */
  lchown(name: string, uid: number, gid: number): void {
    lchownSync(this.at(name), uid, gid);
  }

  lutimes(name: string, atimeMs: number, mtimeMs: number): void {
    lutimesSync(this.at(name), timeArg(atimeMs), timeArg(mtimeMs));
  }

  close(): void {
    if (this.closed) return;
    // The working folder may stay in it (the kernel keeps its own reference) until the next pin or the caller's
    // folder is put back: going home after every folder would cost three calls per folder of a walk.
    if (pinned === this) pinned = undefined;
    this.closed = true;
    closeFd(this.fd);
  }
}

/** Set what `meta` holds on a file, by path or by descriptor (owner first: chown clears setuid/setgid bits). */
export function applyMeta(
  path: string | undefined,
  fd: number | undefined,
  meta: { mode?: number; atimeMs?: number; mtimeMs?: number; uid?: number; gid?: number },
): void {
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

/**
 * A folder's listing, or the EACCES that keeps even its owner out (mode 0, or r-- without x): the caller decides
 * whether to open it up (through the handle). Any other error throws.
 */
export function listOrDenied(folder: OpenFolder): { listing: Listing; denied?: undefined } | { listing?: undefined; denied: unknown } {
  try {
    const listing = folder.list();
    const denied = listing.issues.find((i) => i.error.code === 'EACCES')?.error;
    return denied === undefined ? { listing } : { denied };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    return { denied: error };
  }
}

function openDir(path: string, noFollow: boolean): number {
  const follow = noFollow ? O_NOFOLLOW : 0;
  if (mode === 'fd') return openSync(path, O_PATH | O_DIRECTORY | follow);
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

function fstatOrStat(fd: number, path: string): BigIntStats {
  return fd >= 0 ? fstatSync(fd, BIG) : statSync(path, BIG);
}

function closeFd(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

// ---------------------------------------------------------------------------------------------------------
// Times

/**
 * The seconds value to hand to utimes/futimes/lutimes so the file lands in exactly millisecond `ms`, before
 * 1970 and after 2106 included. Node replaces a negative *number* by "now", but takes a numeric string as is;
 * libuv turns the double into (seconds, nanoseconds truncated to the microsecond). Aim at the middle of the
 * microsecond while doubles are that fine (until ~2106), at the middle of the millisecond after that, and check
 * the aim against libuv's own conversion.
 */
export function timeArg(ms: number): number | string {
  const ms0 = Math.floor(ms);
  for (const seconds of [(ms0 * 1000 + 0.5) / 1e6, (ms0 + 0.5) / 1e3]) {
    if (landsInMs(seconds) === ms0) return seconds < 0 ? String(seconds) : seconds;
  }
  const seconds = (ms0 + 0.5) / 1e3;
  return seconds < 0 ? String(seconds) : seconds;
}

/** The millisecond libuv's uv__fs_to_timespec makes of `seconds` (C truncation, microsecond floor, borrow). */
export function landsInMs(seconds: number): number {
  let sec = Math.trunc(seconds);
  let nsec = Math.trunc((seconds - sec) * 1e9);
  nsec -= nsec % 1000;
  if (nsec < 0) {
    nsec += 1e9;
    sec -= 1;
  }
  return sec * 1000 + Math.floor(nsec / 1e6);
}
