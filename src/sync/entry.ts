import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { rawLstat, type RawStat } from './raw-lstat.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'special';

/** One directory entry as the planner sees it: everything needed to compare two sides, nothing more. */
export interface Entry {
  name: string;
  type: EntryType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  size: number;
  mtimeMs: number;
  atimeMs: number;
  /** Link text, for symlinks only. */
  target?: string;
  /** For specials: "fifo", "socket", "char-device", "block-device" (one word: it is a log line's kind). */
  special?: string;
  /** Inode number as listed: an opened file or folder must still be this one (see access.ts). */
  ino?: bigint;
  /** Numeric owner and group (mirrored when the pass runs as root). */
  uid?: number;
  gid?: number;
  /** Hard links to it, when more than one (not for folders): its metadata can be changed through another name. */
  links?: number;
}

/** A listing problem with one entry: vanished between readdir and lstat, or could not be read. */
export interface ListIssue {
  name: string;
  error: NodeJS.ErrnoException;
}

export interface Listing {
  entries: Entry[];
  issues: ListIssue[];
}

/**
 * Whole milliseconds, exact: from the nanoseconds (a float mtimeMs can round up across a millisecond). Floored,
 * not truncated: a time before 1970 (-1.5 ms) is in millisecond -2, as a replica set to it reads back.
 */
export function toMs(ns: bigint): number {
  const ms = ns / 1_000_000n;
  return Number(ns < 0n && ms * 1_000_000n !== ns ? ms - 1n : ms);
}

/**
 * lstat as an Entry, exact to the millisecond: through the raw call where it is in use (raw-lstat.ts: no Stats
 * object), else with nanosecond times (bigint).
 */
export function lstatEntry(path: string, name: string): Entry {
  const raw = rawLstat(path);
  return raw === undefined ? entryFromStats(name, lstatSync(path, { bigint: true })) : entryFromRaw(name, raw);
}

/** The file-type bits of a mode, and the types the walk tells apart. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** The same Entry as entryFromStats, from the raw call's numbers. */
export function entryFromRaw(name: string, st: RawStat): Entry {
  const format = st.mode & S_IFMT;
  const type: EntryType = format === S_IFREG ? 'file' : format === S_IFDIR ? 'dir' : format === S_IFLNK ? 'symlink' : 'special';
  const entry: Entry = {
    name,
    type,
    mode: st.mode & 0o7777,
    size: st.size,
    mtimeMs: st.mtimeMs,
    atimeMs: st.atimeMs,
    ino: BigInt(st.ino),
    uid: st.uid,
    gid: st.gid,
  };
  if (type === 'special') entry.special = specialKindOf(format);
  if (st.nlink > 1 && type !== 'dir') entry.links = st.nlink;
  return entry;
}

function specialKindOf(format: number): string {
  switch (format) {
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    case 0o020000:
      return 'char-device';
    case 0o060000:
      return 'block-device';
    default:
      return 'special';
  }
}

export function entryFromStats(name: string, st: BigIntStats): Entry {
  // One object literal of one shape per entry (no spread): cheaper to build on a 100k-file walk.
  const type: EntryType = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  const entry: Entry = {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    size: Number(st.size),
    mtimeMs: toMs(st.mtimeNs),
    atimeMs: toMs(st.atimeNs),
    ino: st.ino,
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
  if (type === 'special') entry.special = specialKindOf(Number(st.mode) & S_IFMT);
  if (st.nlink > 1n && type !== 'dir') entry.links = Number(st.nlink);
  return entry;
}

/** Code-unit order: the same on both sides, so the merge-join pairs names exactly (NFC and NFD twins stay apart). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether listDir may move the working folder (see there). Off unless the CLI turns it on: process.chdir moves
 * the working folder of the whole process, and while it is moved, work that runs beside this synchronous call
 * (worker threads, file operations in flight on libuv's thread pool) would resolve a relative path inside the
 * listed folder. The CLI has no such work (every path it gives the engine is absolute), a program that embeds
 * syncOnce may, so the library default is the plain whole-path listing, which gives the same answers, slower.
 */
let chdirListing = false;

/** Whether the CLI allowed moving the working folder (the access layer pins it only then; see access.ts). */
export function chdirAllowed(): boolean {
  return chdirListing;
}

/** The CLI's opt-in to the faster listing (cli.ts); not part of the public API. Ignored off the main thread. */
export function allowChdirListing(on = true): void {
  // process.chdir exists only on the main thread (workers share the process's working folder but cannot move it).
  chdirListing = on && isMainThread;
}

/**
 * List one directory without following links: readdir, then lstat each entry, sorted by name.
 * Throws only when the directory itself cannot be read.
 *
 * Speed: when the CLI allowed it (allowChdirListing), the listing runs with the working folder moved into `dir`,
 * so each lstat resolves one name instead of the whole path (the no-op walk of 100k files spends most of its time
 * in lstat; see bench/PROFILING.md). The move is synchronous and undone before this function returns, so no
 * JavaScript ever sees it; a folder that cannot be entered is listed by whole paths, exactly as before.
 */
export function listDir(dir: string): Listing {
  if (!chdirListing || !isAbsolute(dir)) return listIn(dir);
  let home: string;
  try {
    home = process.cwd();
  } catch {
    return listIn(dir); // the working folder was deleted: stay where we are, use whole paths
  }
  try {
    process.chdir(dir);
  } catch {
    return listIn(dir); // not searchable or gone: the whole-path listing reports it exactly as before
  }
  try {
    return listIn('');
  } finally {
    process.chdir(home);
  }
}

/** List `at`, or the working folder (already moved into the folder to list) when `at` is ''. */
export function listIn(at: string): Listing {
  const names = readdirSync(at === '' ? '.' : at);
  names.sort(compareNames);
  const entries: Entry[] = [];
  const issues: ListIssue[] = [];
  // A listed name has no '/' and is never '.' or '..': under a normalized folder path, `join` is a concatenation
  // (the look-ahead thread lists by whole paths: join cost it ~10% of its time, issue 16).
  const prefix = at === '' ? '' : normalize(at) === at && at !== '.' ? (at.endsWith('/') ? at : `${at}/`) : undefined;
  for (const name of names) {
    const path = prefix === undefined ? join(at, name) : prefix + name;
    let entry: Entry;
    try {
      entry = lstatEntry(path, name);
    } catch (error) {
      issues.push({ name, error: error as NodeJS.ErrnoException });
      continue;
    }
    if (entry.type === 'symlink') {
      try {
        entry.target = readlinkSync(path);
      } catch (error) {
        issues.push({ name, error: error as NodeJS.ErrnoException });
        continue;
      }
    }
    entries.push(entry);
  }
  return { entries, issues };
}

/** Whole milliseconds: the precision the mirror promises (Entry times are already truncated). */
export function sameMtime(a: number, b: number): boolean {
  return Math.floor(a) === Math.floor(b);
}

/** Node decodes a name that is not valid UTF-8 lossily (U+FFFD), so such a name cannot be opened again. */
export function isUndecodableName(name: string): boolean {
  return name.includes('\uFFFD');
}

/**
 * A folder's listing, or the EACCES that keeps even its owner out (mode 0, or r-- without x): the caller decides
 * whether to open it up. `from`: a path (listDir), or an opened folder (access.ts OpenFolder, listed through its
 * handle). Any other error throws.
 */
export function listOrDenied(
  from: string | { list(): Listing },
): { listing: Listing; denied?: undefined } | { listing?: undefined; denied: unknown } {
  try {
    const listing = typeof from === 'string' ? listDir(from) : from.list();
    const denied = listing.issues.find((i) => i.error.code === 'EACCES')?.error;
    return denied === undefined ? { listing } : { denied };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    return { denied: error };
  }
}

/** True when something (of any type, a dangling link too) is at `path`: lstat succeeds, no link followed. */
export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
