import { sep } from 'node:path';
import type { Entry, EntryType } from './entry.js';

/** Slots of the shared counters between the pass and the replica lister. */
export const SLOT = { produced: 0, consumed: 1, stop: 2 } as const;
/** How many folder listings the lister may run ahead of the pass. */
export const MAX_AHEAD = 64;

/** One replica folder's listing, compact for the trip between threads: names NUL-joined, numbers in one array. */
export interface EncodedListing {
  names: string;
  /** type, mode, size, mtimeMs, atimeMs, uid, gid per entry. */
  nums: Float64Array;
  /** Inode numbers (the identity an opened entry is checked against). */
  inos: BigUint64Array;
  /** Link targets and special kinds by entry index. */
  extra: Record<number, string>;
}

export type PrefetchMessage =
  | ({ rel: string; id: string; failed?: undefined; done?: undefined } & EncodedListing)
  | { rel: string; failed: true; done?: undefined }
  | { rel: string; done: true; failed?: undefined };

const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'special'];
const FIELDS = 7;

export function encodeListing(entries: readonly Entry[]): EncodedListing {
  const nums = new Float64Array(entries.length * FIELDS);
  const inos = new BigUint64Array(entries.length);
  const extra: Record<number, string> = {};
  entries.forEach((e, i) => {
    const o = i * FIELDS;
    nums[o] = TYPES.indexOf(e.type);
    nums[o + 1] = e.mode;
    nums[o + 2] = e.size;
    nums[o + 3] = e.mtimeMs;
    nums[o + 4] = e.atimeMs;
    nums[o + 5] = e.uid ?? -1;
    nums[o + 6] = e.gid ?? -1;
    inos[i] = e.ino ?? 0n;
    if (e.type === 'symlink') extra[i] = e.target ?? '';
    else if (e.type === 'special') extra[i] = e.special ?? 'special';
  });
  return { names: entries.map((e) => e.name).join('\0'), nums, inos, extra };
}

export function decodeListing({ names, nums, inos, extra }: EncodedListing): Entry[] {
  if (nums.length === 0) return [];
  return names.split('\0').map((name, i) => {
    const o = i * FIELDS;
    const type = TYPES[nums[o] ?? 0] ?? 'special';
    const entry: Entry = { name, type, mode: nums[o + 1] ?? 0, size: nums[o + 2] ?? 0, mtimeMs: nums[o + 3] ?? 0, atimeMs: nums[o + 4] ?? 0 };
    if (type === 'symlink') entry.target = extra[i] ?? '';
    else if (type === 'special') entry.special = extra[i];
    const [uid, gid, ino] = [nums[o + 5] ?? -1, nums[o + 6] ?? -1, inos[i] ?? 0n];
    if (ino !== 0n) entry.ino = ino;
    if (uid >= 0) entry.uid = uid;
    if (gid >= 0) entry.gid = gid;
    return entry;
  });
}

/** Depth-first pre-order of relative folder paths (a folder before its contents, siblings by name). */
export function visitOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const pa = a.split(sep);
  const pb = b.split(sep);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
