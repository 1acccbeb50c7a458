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
 * The working folder belongs to the pass only between awaits: `unpinWorkingFolder()` (working-folder.ts) puts the
 * caller's back (exactly, through a descriptor) and the engine calls it before every await and at the end of a pass.
 * Everything here is synchronous. And only in the CLI (allowChdirListing, entry.ts): a program that embeds
 * syncOnce keeps its working folder; there every name goes through `/proc/self/fd/<fd>/<name>` ('fd' mode,
 * as safe, slower listings) or a checked path ('path' mode: a swap between the check and the call is not
 * excluded there).
 * Its parts: this file (the mode, OpenFolder), working-folder.ts (where the working folder is pinned, the caller's
 * put back), folder-entries.ts (the calls on the entries of an opened folder), handles.ts (checked opens,
 * identities), file-meta.ts, path-mode.ts ('path' mode's own steps).
 */
import { chmodSync, chownSync, existsSync, fchmodSync, fchownSync, fstatSync, futimesSync, mkdirSync } from 'node:fs';
import { rename, renameSync, statSync, utimesSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { chdirAllowed, listIn, S_IFDIR, S_IFMT, type Entry, type Listing } from './entry.js';
import { rawLstat } from './raw-lstat.js';
import { setFileMetaAt, type FileMeta } from './file-meta.js';
import { FolderEntries } from './folder-entries.js';
import { BIG, closeFd, openDirChecked, openRootDir, sameIdentity, type Identity } from './handles.js';
import { checkFolderPath, renameAcrossByPath } from './path-mode.js';
import { timeArg } from './times.js';
import { forgetPin, isPinned, pinWorkingFolder, unpinWorkingFolder } from './working-folder.js';

export type AccessMode = 'fd' | 'path';

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

// ---------------------------------------------------------------------------------------------------------
// OpenFolder

/**
 * A folder opened once; every operation names an entry *inside* it (those on entries: folder-entries.ts). Close
 * it when done (handles are finite).
 */
export class OpenFolder extends FolderEntries implements Identity {
  private closed = false;

  private constructor(
    /** O_PATH descriptor ('fd' mode) or a read descriptor that pins the inode ('path' mode; -1 on Windows). */
    readonly fd: number,
    readonly dev: bigint,
    readonly ino: bigint,
    path: string,
  ) {
    super(path);
  }

  /** Open a root (source or replica) by the path the user gave; links in that path are followed on purpose. */
  static openRoot(path: string): OpenFolder {
    const { fd, stat } = openRootDir(path, mode === 'fd');
    return new OpenFolder(fd, stat.dev, stat.ino, path);
  }

  /**
   * Open the folder at `path` without following its last name: `path` is `/proc/self/fd/<fd>/<name>` of an
   * opened parent ('fd' mode, see `io`), so nothing before the last name is re-resolved either. `expected` (the
   * listing's inode): a link, a file or another folder in its place throws EntryChangedError.
   */
  static openNoFollow(path: string, expected?: Pick<Entry, 'ino'>): OpenFolder {
    const { fd, stat } = openDirChecked(() => path, path, expected, mode === 'fd');
    return new OpenFolder(fd, stat.dev, stat.ino, path);
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
    const path = join(this.path, name);
    const { fd, stat } = openDirChecked(() => this.at(name), path, expected, mode === 'fd');
    return new OpenFolder(fd, stat.dev, stat.ino, path);
  }

  /**
   * How to name `name` inside this folder for one call. 'fd' mode: the bare name when the working folder is
   * pinned here, else `/proc/self/fd/<fd>/<name>` (the magic link pins the folder; the last name is not
   * followed by the calls that must not follow it), so single calls never move the working folder back and
   * forth between the two trees. 'path' mode: the working folder is pinned here (checked) and the name is bare.
   */
  protected override at(name: string): string {
    if (mode === 'fd') {
      if (this.closed) throw new Error(`internal: ${this.path} is used after close`);
      return isPinned(this) ? name : `/proc/self/fd/${this.fd}/${name}`;
    }
    if (!chdirAllowed()) {
      // An embedder's process: its working folder is not ours to move; a checked path (see the file's top).
      checkFolderPath(this);
      return join(this.path, name);
    }
    this.pin();
    return name;
  }

  /** Move the process's working folder into this folder (checked), so bare names resolve inside it. */
  pin(): void {
    if (isPinned(this)) return;
    if (this.closed) throw new Error(`internal: ${this.path} is used after close`);
    pinWorkingFolder(this, mode === 'fd');
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
    return this.holdsFolder('..', parent);
  }

  /** Is `name` in this folder (not followed) the folder `id`? Any error: no. */
  holdsFolder(name: string, id: Identity): boolean {
    try {
      // Asked before every write into a folder: the raw lstat where it reads exactly (raw-lstat.ts), no Stats object.
      const raw = rawLstat(this.at(name));
      if (raw) return (raw.mode & S_IFMT) === S_IFDIR && BigInt(raw.dev) === id.dev && BigInt(raw.ino) === id.ino;
      const st = this.lstat(name);
      return st.isDirectory() && sameIdentity(st, id);
    } catch {
      return false;
    }
  }

  /**
   * Run a call that takes a path on this folder itself (chmod, utimes, chown): 'fd' mode through the magic link;
   * 'path' mode on the open descriptor (`onFd`); with no descriptor (Windows), on the checked path.
   */
  private onSelf<T>(byPath: (path: string) => T, onFd: (fd: number) => T): T {
    if (mode === 'fd') return byPath(`/proc/self/fd/${this.fd}`);
    if (this.fd >= 0) return onFd(this.fd);
    checkFolderPath(this);
    return byPath(this.path);
  }

  /** Every entry (sorted by name, not followed); entries that could not be looked at are listed as issues. */
  list(): Listing {
    if (!chdirAllowed()) {
      // Not the CLI: no working folder to pin (an embedder's), names through the handle instead (slower).
      if (mode === 'fd') return listIn(`/proc/self/fd/${this.fd}`);
      checkFolderPath(this);
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

  /** Rename `from` (in this folder) to `to` in `into` (this folder by default; same file system). */
  rename(from: string, to: string, into: OpenFolder = this): void {
    if (into === this) {
      renameSync(this.at(from), this.at(to));
    } else if (mode === 'fd') {
      renameSync(this.at(from), into.at(to));
    } else {
      renameAcrossByPath(this, from, to, into);
    }
  }

  /**
   * Rename `from` to `to` inside this folder on libuv's thread pool ('fd' mode only): both named through the
   * handle, so where the working folder is meanwhile changes nothing. The folder must stay open until `done`.
   */
  renameLater(from: string, to: string, done: (error: NodeJS.ErrnoException | null) => void): void {
    if (mode !== 'fd' || this.closed) throw new Error(`internal: ${this.path} cannot rename later`);
    const dir = `/proc/self/fd/${this.fd}`;
    rename(`${dir}/${from}`, `${dir}/${to}`, done);
  }

  /** Create a folder (owner-only until its real mode is set) and open it. */
  mkdir(name: string, mode = 0o700): OpenFolder {
    mkdirSync(this.at(name), mode);
    return this.openChild(name);
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
   * since the listing: through a descriptor checked against the listing (file-meta.ts).
   */
  setFileMeta(name: string, expected: Pick<Entry, 'ino'> | undefined, meta: FileMeta): void {
    setFileMetaAt(() => this.at(name), join(this.path, name), expected, meta, mode === 'fd');
  }

  close(): void {
    if (this.closed) return;
    // The working folder may stay in it (the kernel keeps its own reference) until the next pin or the caller's
    // folder is put back: going home after every folder would cost three calls per folder of a walk.
    forgetPin(this);
    this.closed = true;
    closeFd(this.fd);
  }
}
