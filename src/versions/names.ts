/**
 * Pure rules of a versions folder: how pass folders are named and ordered, which of them a retention policy
 * prunes, how `--at` is read, and how a path inside the replica is written. No I/O here.
 */
import { UsageError } from '../errors.js';

/** The folder, in the versions folder's root, where folder-sync keeps its markers (one per pass folder). */
export const META_DIR = '.folder-sync-versions';

/** `2026-11-28T05-30-00Z`, or `2026-11-28T05-30-00Z-2` for a second pass that started in the same second. */
const PASS_NAME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})Z(?:-([1-9]\d{0,5}))?$/;

export interface PassName {
  name: string;
  /** Start of the pass, in ms (to the second: what the name holds). */
  time: number;
  /** 1 for the first pass of that second, 2, 3, ... for the next ones. */
  seq: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The pass folder name for a pass started at `startMs` (UTC, sortable, no `:` so it is valid on Windows too). */
export function passFolderName(startMs: number, seq = 1): string {
  const d = new Date(startMs);
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}Z`;
  return seq > 1 ? `${base}-${seq}` : base;
}

/** The name read back, or undefined for a name that is not a pass folder's. */
export function parsePassFolderName(name: string): PassName | undefined {
  const m = PASS_NAME.exec(name);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  // Reject impossible dates (2026-02-31) rather than letting Date roll them over.
  const base = m[7] ? name.slice(0, name.lastIndexOf('-')) : name;
  if (Number.isNaN(time) || passFolderName(time) !== base) return undefined;
  return { name, time, seq: m[7] ? Number(m[7]) : 1 };
}

/** Oldest first: by time, then by the same-second sequence number (string order would put -10 before -2). */
export function comparePasses(a: PassName, b: PassName): number {
  return a.time - b.time || a.seq - b.seq;
}

export interface Retention {
  /** Keep pass folders younger than this many days. */
  keepDays?: number;
  /** Keep this many of the newest pass folders. */
  keepVersions?: number;
}

/** `--versions <dir>` with its retention, as a pass, `run` and a scheduled job take it. */
export interface VersionsOption extends Retention {
  dir: string;
}

export function hasRetention(r: Retention): boolean {
  return r.keepDays !== undefined || r.keepVersions !== undefined;
}

/**
 * The pass folders a policy prunes. A folder is kept when ANY given rule keeps it (restic's --keep-within and
 * --keep-last work the same way): `--keep-days 30 --keep-versions 5` keeps a month, and still the last five
 * after a month without changes. No rule: nothing is pruned.
 */
export function passesToPrune<P extends PassName>(passes: readonly P[], policy: Retention, nowMs: number): P[] {
  if (!hasRetention(policy)) return [];
  const newestFirst = [...passes].sort((a, b) => comparePasses(b, a));
  const cutoff = policy.keepDays !== undefined ? nowMs - policy.keepDays * 86_400_000 : undefined;
  return newestFirst
    .filter((p, i) => {
      const keptByCount = policy.keepVersions !== undefined && i < policy.keepVersions;
      const keptByAge = cutoff !== undefined && p.time >= cutoff;
      return !keptByCount && !keptByAge;
    })
    .reverse();
}

/** A moment to compare pass folders with: a time, and for a pass folder name its same-second sequence number. */
export interface AtKey {
  time: number;
  seq: number;
}

/** True when pass `p` started at or before `at`. */
export function atOrBefore(p: PassName, at: AtKey): boolean {
  return p.time < at.time || (p.time === at.time && p.seq <= at.seq);
}

/**
 * `restore --at`: a pass folder name (that pass exactly), an ISO date-time with Z or an offset, a local
 * date-time (`2026-11-24 18:00`, `2026-11-24T18:00:05`), or a bare local date (`2026-11-24`, meaning the end of
 * that day). UsageError otherwise.
 */
export function parseAt(text: string): AtKey {
  const pass = parsePassFolderName(text);
  if (pass) return { time: pass.time, seq: pass.seq };
  const time = parseMoment(text);
  if (time === undefined) {
    throw new UsageError(
      `--at must be a pass folder name (2026-11-28T05-30-00Z), a date-time (2026-11-28 06:30, 2026-11-28T05:30:00Z) or a date (2026-11-28), got ${JSON.stringify(text)}`,
    );
  }
  return { time, seq: Number.POSITIVE_INFINITY };
}

function parseMoment(text: string): number | undefined {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (date) {
    const [y, m, d] = date.slice(1).map(Number) as [number, number, number];
    const end = new Date(y, m - 1, d, 23, 59, 59, 999);
    if (end.getFullYear() === y && end.getMonth() === m - 1 && end.getDate() === d) return end.getTime();
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(text);
  if (local) {
    const [y, mo, d, h, mi] = local.slice(1, 6).map(Number) as [number, number, number, number, number];
    const s = Number(local[6] ?? 0);
    const ms = Number((local[7] ?? '0').padEnd(3, '0'));
    const t = new Date(y, mo - 1, d, h, mi, s, ms);
    if (t.getMonth() === mo - 1 && t.getDate() === d && h < 24 && mi < 60 && s < 60) return t.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  return undefined;
}

/**
 * A path relative to the replica, as the user typed it: `docs/a.txt`, `./docs/a.txt/`, or with backslashes on
 * Windows. Returns the normalised `a/b` form ('' is the replica's root); `..` and empty parts are refused.
 */
export function normaliseReplicaPath(text: string, sep = '/'): string {
  const parts = text.split(sep === '\\' ? /[\\/]/ : '/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new UsageError(`the path must stay inside the replica (no ".."): ${JSON.stringify(text)}`);
  if (parts[0] === META_DIR) {
    throw new UsageError(`${JSON.stringify(text)} is folder-sync's own bookkeeping, not a path in the replica`);
  }
  return parts.join('/');
}
