/**
 * The walk's lstat without a Stats object (issue 16). `fs.lstatSync(path, { bigint: true })` builds a BigIntStats
 * per call: 18 BigInt fields and four Date objects the walk never reads, then garbage. Profiles of the no-op pass
 * showed that building (dateFromMs, getStatsFromBinding, the collector) as the largest cost after the system
 * call itself. Node's own lstatSync is a thin wrapper around its fs binding, which fills one shared
 * Float64Array with the kernel's fields (seconds and nanoseconds apart, so every time is exact in a double); the
 * walk reads its eight fields from there. Same tree walk, one thread, listing by bare name: 305 ms with
 * lstatSync, 230 ms this way (docs/benchmark.md, session 9).
 *
 * Used only where it is exactly Node's own call, checked when this module loads; anything else and every entry
 * is read with lstatSync as before:
 * - Linux only, and not under Node's permission model (lstatSync checks permissions in JavaScript, before
 *   the binding; Node refuses `process.binding` there, so the load below finds no binding);
 * - `fs.lstatSync`'s own source must call `binding.lstat(path, bigint, undefined, throwIfNoEntry)` (Node 20.20
 *   and later; earlier versions passed an error context in that place, which this call must never meet);
 * - the binding, taken with deprecation warnings held off for that one line (`process.binding` is DEP0111, a
 *   documentation deprecation that prints only under `--pending-deprecation`), must give for two known
 *   entries exactly what lstatSync gives, and throw lstatSync's own error for a missing one;
 * - `FOLDER_SYNC_RAW_LSTAT=0` turns it off (and tests run the walk both ways).
 * An inode number or size above 2^53, or a time whose milliseconds are beyond 2^53 (a double cannot hold them
 * exactly), is read again with lstatSync.
 */
import { closeSync, fstatSync, lstatSync, openSync, type BigIntStats } from 'node:fs';

/** Field positions in Node's stat array (uv_stat_t order). */
const DEV = 0;
const MODE = 1;
const NLINK = 2;
const UID = 3;
const GID = 4;
const INO = 7;
const SIZE = 8;
const ATIME_S = 10;
const ATIME_NS = 11;
const MTIME_S = 12;
const MTIME_NS = 13;
const BLKSIZE = 6;
const BLOCKS = 9;
const CTIME_S = 14;
const CTIME_NS = 15;

/** The fields the walk reads, as plain numbers (times in whole milliseconds, floored). */
export interface RawStat {
  dev: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  ino: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
}

type Call = (path: string) => Float64Array;

const NODE_CALL = /binding\.lstat\(\s*pathModule\.toNamespacedPath\(path\),\s*options\.bigint,\s*undefined,\s*options\.throwIfNoEntry,?\s*\)/;

/** Whole milliseconds from seconds and nanoseconds (nanoseconds are 0..1e9 also before 1970): floored, exact. */
const ms = (s: number, ns: number): number => s * 1000 + Math.floor(ns / 1e6);

function read(a: Float64Array): RawStat {
  return {
    dev: a[DEV] as number,
    mode: a[MODE] as number,
    nlink: a[NLINK] as number,
    uid: a[UID] as number,
    gid: a[GID] as number,
    ino: a[INO] as number,
    size: a[SIZE] as number,
    atimeMs: ms(a[ATIME_S] as number, a[ATIME_NS] as number),
    mtimeMs: ms(a[MTIME_S] as number, a[MTIME_NS] as number),
  };
}

/** Does the binding give exactly lstatSync's answer for `path`? */
function agrees(call: Call, path: string): boolean {
  const st = lstatSync(path, { bigint: true });
  const r = read(call(path));
  const msOf = (ns: bigint): number => Number(ns / 1_000_000n); // both known entries are after 1970
  return (
    BigInt(r.dev) === st.dev &&
    BigInt(r.mode) === st.mode &&
    BigInt(r.nlink) === st.nlink &&
    BigInt(r.uid) === st.uid &&
    BigInt(r.gid) === st.gid &&
    BigInt(r.ino) === st.ino &&
    BigInt(r.size) === st.size &&
    r.mtimeMs === msOf(st.mtimeNs) &&
    r.atimeMs === msOf(st.atimeNs)
  );
}

function missingThrowsLikeNode(call: Call): boolean {
  const path = `/proc/self/fd/-1/folder-sync-${process.pid}`; // never exists
  let ours: NodeJS.ErrnoException | undefined;
  let node: NodeJS.ErrnoException | undefined;
  try {
    call(path);
  } catch (error) {
    ours = error as NodeJS.ErrnoException;
  }
  try {
    lstatSync(path);
  } catch (error) {
    node = error as NodeJS.ErrnoException;
  }
  return ours instanceof Error && node !== undefined && ours.code === node.code && ours.message === node.message;
}

interface Binding {
  lstat?: (path: string, bigint: boolean, req: undefined, throwIfNoEntry: boolean) => Float64Array;
  fstat?: (fd: number, bigint: boolean, req: undefined, shouldThrow: boolean) => Float64Array;
}

/** Node's fs binding, taken with deprecation warnings held off for that one line (see the module's comment). */
function fsBinding(): Binding | undefined {
  const proc = process as unknown as { binding?: (name: string) => Binding; noDeprecation?: boolean };
  if (process.platform !== 'linux' || process.env['FOLDER_SYNC_RAW_LSTAT'] === '0') return undefined;
  if (typeof proc.binding !== 'function') return undefined;
  // Under --no-deprecation, process.noDeprecation is already true and read-only (an assignment throws in a
  // module): leave it be. Reflect.set says false rather than throwing where it cannot be set; then no binding.
  const quiet = proc.noDeprecation;
  if (quiet !== true && !Reflect.set(proc, 'noDeprecation', true)) return undefined;
  try {
    return proc.binding('fs');
  } catch {
    return undefined;
  } finally {
    if (quiet !== true) Reflect.set(proc, 'noDeprecation', quiet);
  }
}

function load(): Call | undefined {
  if (!NODE_CALL.test(lstatSync.toString())) return undefined;
  const lstat = fsBinding()?.lstat;
  if (typeof lstat !== 'function') return undefined;
  const call: Call = (path) => lstat(path, false, undefined, true);
  try {
    if (!(call('/') instanceof Float64Array)) return undefined;
    // A second look where an access time moved between the two reads.
    const twice = (path: string): boolean => agrees(call, path) || agrees(call, path);
    return twice('/') && twice(process.execPath) && missingThrowsLikeNode(call) ? call : undefined;
  } catch {
    return undefined;
  }
}

const call = load();

/** Whether the walk reads entries this way (tests). */
export function rawLstatInUse(): boolean {
  return call !== undefined;
}

const EXACT = 2 ** 53;

/**
 * lstat `path` (not followed) into plain numbers, or undefined where only lstatSync can say it exactly (the
 * raw call is off, the inode number or size is beyond a double, a NUL in the path, which lstatSync refuses).
 * Errors are lstatSync's own.
 */
export function rawLstat(path: string): RawStat | undefined {
  if (call === undefined || path.includes('\0')) return undefined;
  return exactOnly(read(call(path)));
}

/**
 * The numbers as read, if a double holds each one exactly (else undefined: lstatSync must read it). A time is
 * exact while its whole milliseconds are a safe integer (about 285,000 years either side of 1970): beyond that,
 * seconds * 1000 and the added milliseconds round twice (tmpfs and btrfs keep any 64-bit seconds).
 */
export function exactOnly(r: RawStat): RawStat | undefined {
  return r.ino < EXACT && r.dev < EXACT && r.size < EXACT && Number.isSafeInteger(r.mtimeMs) && Number.isSafeInteger(r.atimeMs) ? r : undefined;
}

/**
 * What a copy asks of its open source file, twice per file (copy-file.ts): the same fields fstatSync gives, as
 * plain numbers; the change time as seconds and nanoseconds apart (exact).
 */
export interface FileStat extends RawStat {
  blocks: number;
  blksize: number;
  ctimeS: number;
  ctimeNs: number;
}

type FstatCall = (fd: number) => Float64Array;

const NODE_FSTAT = /binding\.fstat\(\s*fd,\s*options\.bigint,\s*undefined,\s*false,?\s*\)/;

function fileStatOf(a: Float64Array): FileStat {
  const r = read(a) as FileStat;
  r.blocks = a[BLOCKS] as number;
  r.blksize = a[BLKSIZE] as number;
  r.ctimeS = a[CTIME_S] as number;
  r.ctimeNs = a[CTIME_NS] as number;
  return r;
}

/** Nanoseconds since 1970 as whole seconds (floored) and the nanoseconds after them (0..999,999,999), as the kernel gives them. */
function secondsAndNs(ns: bigint): { ctimeS: number; ctimeNs: number } {
  const s = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
  return { ctimeS: Number(s), ctimeNs: Number(ns - s * 1_000_000_000n) };
}

/** The same fields from a BigIntStats (where the raw call is off or a number is beyond a double). */
export function fileStatFrom(st: BigIntStats): FileStat {
  const ms = (ns: bigint): number => Number(ns / 1_000_000n) - (ns % 1_000_000n < 0n ? 1 : 0);
  return {
    dev: Number(st.dev),
    mode: Number(st.mode),
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    ino: Number(st.ino),
    size: Number(st.size),
    atimeMs: ms(st.atimeNs),
    mtimeMs: ms(st.mtimeNs),
    blocks: Number(st.blocks),
    blksize: Number(st.blksize),
    ...secondsAndNs(st.ctimeNs),
  };
}

function loadFstat(): FstatCall | undefined {
  if (!NODE_FSTAT.test(fstatSync.toString())) return undefined;
  const fstat = fsBinding()?.fstat;
  if (typeof fstat !== 'function') return undefined;
  const call: FstatCall = (fd) => fstat(fd, false, undefined, false);
  let fd: number | undefined;
  try {
    fd = openSync(process.execPath, 'r');
    const a = call(fd);
    if (!(a instanceof Float64Array)) return undefined;
    const ours = fileStatOf(a);
    const node = fileStatFrom(fstatSync(fd, { bigint: true }));
    // Every field as fstatSync reads it (the access time aside: nothing here reads the file, but it is not asked).
    return (Object.keys(node) as (keyof FileStat)[]).every((k) => k === 'atimeMs' || ours[k] === node[k]) ? call : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const fstatCall = call === undefined ? undefined : loadFstat();

/** Whether copies read their source's fstat this way (tests). */
export function rawFstatInUse(): boolean {
  return fstatCall !== undefined;
}

/**
 * fstat an open file into plain numbers (no BigIntStats per call): Node's own binding call where it was checked
 * to be so, else fstatSync's answer. Numbers a double cannot hold exactly are read with fstatSync.
 */
export function fileStat(fd: number): FileStat {
  if (fstatCall !== undefined && Number.isInteger(fd) && fd >= 0) {
    const r = fileStatOf(fstatCall(fd));
    if (exactOnly(r) && r.blocks < EXACT) return r;
  }
  return fileStatFrom(fstatSync(fd, { bigint: true }));
}
