import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
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
  /** For specials: "fifo", "socket", "char-device", "block-device" (one word: it is a log line's kind). */
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

/** Whole milliseconds, exact: from the nanoseconds (a float mtimeMs can round up across a millisecond). */
const toMs = (ns: bigint): number => Number(ns / 1_000_000n);

/** lstat with nanosecond times (bigint): as cheap as the float form, and exact to the millisecond. */
export function lstatEntry(path: string, name: string): Entry {
  return entryFromStats(name, lstatSync(path, { bigint: true }));
}

export function entryFromStats(name: string, st: BigIntStats): Entry {
  const base = {
    name,
    mode: Number(st.mode & 0o7777n),
    size: Number(st.size),
    mtimeMs: toMs(st.mtimeNs),
    atimeMs: toMs(st.atimeNs),
  };
  if (st.isFile()) return { ...base, type: 'file' };
  if (st.isDirectory()) return { ...base, type: 'dir' };
  if (st.isSymbolicLink()) return { ...base, type: 'symlink' };
  return { ...base, type: 'special', special: specialKind(st) };
}

function specialKind(st: BigIntStats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'special';
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
