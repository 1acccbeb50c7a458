import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

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
  /** For specials: "fifo", "socket", "character device", "block device". */
  special?: string;
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

export function entryFromStats(name: string, st: Stats): Entry {
  const base = { name, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs };
  if (st.isFile()) return { ...base, type: 'file' };
  if (st.isDirectory()) return { ...base, type: 'dir' };
  if (st.isSymbolicLink()) return { ...base, type: 'symlink' };
  return { ...base, type: 'special', special: specialKind(st) };
}

function specialKind(st: Stats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/** Code-unit order: the same on both sides, so the merge-join pairs names exactly (NFC and NFD twins stay apart). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * List one directory without following links: readdir, then lstat each entry, sorted by name.
 * Throws only when the directory itself cannot be read.
 */
export function listDir(dir: string): Listing {
  const names = readdirSync(dir);
  names.sort(compareNames);
  const entries: Entry[] = [];
  const issues: ListIssue[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let st: Stats | undefined;
    try {
      st = lstatSync(path);
    } catch (error) {
      issues.push({ name, error: error as NodeJS.ErrnoException });
      continue;
    }
    const entry = entryFromStats(name, st);
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

/** Whole milliseconds: the precision the mirror promises. */
export function sameMtime(a: number, b: number): boolean {
  return Math.floor(a) === Math.floor(b);
}
