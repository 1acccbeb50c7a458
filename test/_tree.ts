/**
 * Test helper: build awkward trees in temp folders from a compact spec, snapshot them, and compare two trees
 * entry by entry (type, bytes, permission bits, mtime to the millisecond, link target). Shared by every
 * end-to-end suite (sync-once, permissions, fault injection).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** The unprivileged user that runs permission cases when the suite runs as root. */
export const TEST_USER = 'folder-sync-test';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------------------------------------
// Spec

export interface MetaOpts {
  /** Permission bits, applied after the contents (so 0o555 and 0o000 folders can still be filled). */
  mode?: number;
  /** Modification time in milliseconds since the epoch (fractions allowed), or a Date. */
  mtime?: number | Date;
}

export type Node =
  | { type: 'file'; content: string | Buffer; mode?: number; mtime?: number | Date }
  | { type: 'dir'; children: Spec; mode?: number; mtime?: number | Date }
  | { type: 'symlink'; target: string }
  | { type: 'fifo' }
  /** A hard link to another file of the same tree, by its path relative to the tree's root (built in order). */
  | { type: 'hardlink'; to: string };

/** A folder's contents: name -> node. A string or Buffer is a file with that content, a plain object a folder. */
export interface Spec {
  [name: string]: Node | Spec | string | Buffer;
}

/** Marks a Node built by the helpers below, so a folder spec may hold a file literally named "type". */
const NODE = Symbol('tree node');
const mark = (n: Node): Node => Object.assign(n, { [NODE]: true });

export const file = (content: string | Buffer = '', opts: MetaOpts = {}): Node => mark({ type: 'file', content, ...opts });
export const dir = (children: Spec = {}, opts: MetaOpts = {}): Node => mark({ type: 'dir', children, ...opts });
export const symlink = (target: string): Node => mark({ type: 'symlink', target });
export const fifo = (): Node => mark({ type: 'fifo' });
export const hardlink = (to: string): Node => mark({ type: 'hardlink', to });

function toNode(value: Node | Spec | string | Buffer): Node {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return file(value);
  if (NODE in value) return value as Node;
  return dir(value as Spec);
}

/** Seconds for utimes, aimed inside the millisecond so float rounding never moves it to a neighbour. */
export function msToTimeSpec(ms: number): number {
  return (Math.floor(ms * 1000) + 0.5) / 1e6;
}

function setTimes(path: string, mtime: number | Date | undefined): void {
  if (mtime === undefined) return;
  const ms = mtime instanceof Date ? mtime.getTime() : mtime;
  utimesSync(path, msToTimeSpec(ms), msToTimeSpec(ms));
}

/**
 * Build `spec` inside the existing folder `root`. Files get content, then mtime, then mode; folders get their
 * contents first, then mtime, then mode (post-order, as a mirror must). Returns `root`.
 */
export function buildTree(root: string, spec: Spec): string {
  buildInto(root, root, spec);
  return root;
}

function buildInto(treeRoot: string, at: string, spec: Spec): void {
  for (const [name, value] of Object.entries(spec)) {
    const node = toNode(value);
    const path = join(at, name);
    switch (node.type) {
      case 'file':
        writeFileSync(path, node.content);
        setTimes(path, node.mtime);
        if (node.mode !== undefined) chmodSync(path, node.mode);
        break;
      case 'dir':
        mkdirSync(path);
        buildInto(treeRoot, path, node.children);
        setTimes(path, node.mtime);
        if (node.mode !== undefined) chmodSync(path, node.mode);
        break;
      case 'symlink':
        symlinkSync(node.target, path);
        break;
      case 'fifo':
        execFileSync('mkfifo', [path]);
        break;
      case 'hardlink':
        linkSync(join(treeRoot, node.to), path);
        break;
    }
  }
}

/** A chain of `depth` nested folders named `name`, with `leaf` at the bottom. */
export function nested(depth: number, name: string, leaf: Spec): Spec {
  let spec: Spec = leaf;
  for (let i = 0; i < depth; i++) spec = { [name]: dir(spec) };
  return spec;
}

/** Deterministic pseudo-random bytes (the same for the same seed), for files larger than one copy buffer. */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Temp folders

const made: string[] = [];
// Registered when a test file imports this module, so temp folders made anywhere in the file are removed.
afterAll(() => {
  for (const p of made.splice(0)) removeTree(p);
});

/**
 * A fresh temp folder, removed after the test file. With `forUser`, it is owned by the unprivileged test user
 * (when running as root) so that a CLI run with `asUser` can write into it.
 */
export function tempDir(prefix = 'fs-test-', opts: { forUser?: boolean } = {}): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  made.push(path);
  if (opts.forUser) giveToTestUser(path);
  return path;
}

/** Remove a tree even when parts of it are read-only or unreadable. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch {
    // read-only folders (when not root): open them up and try again
  }
  makeWritable(path);
  rmSync(path, { recursive: true, force: true });
}

function makeWritable(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  chmodSync(path, 0o700);
  for (const name of readdirSync(path)) makeWritable(join(path, name));
}

let testUserIds: { uid: number; gid: number } | undefined;

/** uid and gid of the unprivileged test user; throws (never skips) when it does not exist. */
export function testUser(): { uid: number; gid: number } {
  if (!testUserIds) {
    try {
      const uid = Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', TEST_USER], { encoding: 'utf8' }).trim());
      testUserIds = { uid, gid };
    } catch {
      throw new Error(`the unprivileged user ${TEST_USER} does not exist; run "bash scripts/test-setup.sh" as root (npm test does)`);
    }
  }
  return testUserIds;
}

/** Hand a tree (not following links) to the test user, when running as root; a no-op otherwise. */
export function giveToTestUser(path: string): void {
  if (!isRoot) return;
  const { uid, gid } = testUser();
  const walk = (p: string): void => {
    lchownSync(p, uid, gid);
    if (lstatSync(p).isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(path);
}

// ---------------------------------------------------------------------------------------------------------
// Snapshot and compare

export interface Snap {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'device' | 'unreadable';
  /** mode & 0o7777 (not for symlinks, whose bits mean nothing on Linux). */
  mode?: number;
  /** Modification time truncated to the millisecond (files and folders). */
  mtimeMs?: bigint;
  size?: number;
  /** sha256 of the contents (files). */
  hash?: string;
  /** Link text (symlinks). */
  target?: string;
  ino: bigint;
}

/** Every entry of a tree by its path relative to the root ('.' for the root itself), never following links. */
export type TreeSnapshot = Map<string, Snap>;

export function snapshotTree(root: string): TreeSnapshot {
  const out: TreeSnapshot = new Map();
  const visit = (abs: string, rel: string): void => {
    const st = lstatSync(abs, { bigint: true });
    const ino = st.ino;
    if (st.isSymbolicLink()) {
      out.set(rel, { type: 'symlink', target: readlinkSync(abs), ino });
      return;
    }
    const meta = { mode: Number(st.mode & 0o7777n), mtimeMs: st.mtimeNs / 1_000_000n, ino };
    if (st.isFile()) {
      let hash: string;
      try {
        hash = createHash('sha256').update(readFileSync(abs)).digest('hex');
      } catch {
        out.set(rel, { type: 'unreadable', ...meta });
        return;
      }
      out.set(rel, { type: 'file', size: Number(st.size), hash, ...meta });
      return;
    }
    if (st.isDirectory()) {
      out.set(rel, { type: 'dir', ...meta });
      let names: string[];
      try {
        names = readdirSync(abs);
      } catch {
        out.set(rel, { type: 'unreadable', ...meta });
        return;
      }
      for (const name of names.sort()) visit(join(abs, name), rel === '.' ? name : `${rel}/${name}`);
      return;
    }
    out.set(rel, { type: st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device', ...meta });
  };
  visit(root, '.');
  return out;
}

export interface CompareOptions {
  /** Leave these paths out on both sides (e.g. FIFOs that are expected to be skipped). */
  ignore?: (path: string) => boolean;
  /** Do not compare the root folder's own mode and mtime. */
  ignoreRoot?: boolean;
  /** Do not compare folders' mtimes. */
  ignoreDirMtimes?: boolean;
}

function describe(s: Snap): string {
  switch (s.type) {
    case 'file':
      return `file ${s.size} bytes mode ${s.mode?.toString(8)} mtime ${s.mtimeMs}`;
    case 'dir':
      return `dir mode ${s.mode?.toString(8)} mtime ${s.mtimeMs}`;
    case 'symlink':
      return `symlink -> ${JSON.stringify(s.target)}`;
    default:
      return s.type;
  }
}

/**
 * Compare two trees (paths or snapshots) entry by entry. Returns one readable line per difference; an empty
 * list means the trees are equal in type, bytes, mode, mtime (ms) and link target.
 */
export function compareTrees(a: string | TreeSnapshot, b: string | TreeSnapshot, opts: CompareOptions = {}): string[] {
  const sa = typeof a === 'string' ? snapshotTree(a) : a;
  const sb = typeof b === 'string' ? snapshotTree(b) : b;
  const keep = (p: string): boolean => !opts.ignore?.(p);
  const diffs: string[] = [];
  const paths = [...new Set([...sa.keys(), ...sb.keys()])].filter(keep).sort();
  for (const path of paths) {
    const x = sa.get(path);
    const y = sb.get(path);
    const name = JSON.stringify(path);
    if (!x) {
      diffs.push(`${name}: only in second (${describe(y as Snap)})`);
      continue;
    }
    if (!y) {
      diffs.push(`${name}: only in first (${describe(x)})`);
      continue;
    }
    if (x.type !== y.type) {
      diffs.push(`${name}: type ${x.type} vs ${y.type}`);
      continue;
    }
    if (x.type === 'symlink') {
      if (x.target !== y.target) diffs.push(`${name}: target ${JSON.stringify(x.target)} vs ${JSON.stringify(y.target)}`);
      continue;
    }
    if (path === '.' && opts.ignoreRoot) continue;
    if (x.type === 'file' && (x.size !== y.size || x.hash !== y.hash)) {
      diffs.push(`${name}: contents differ (${x.size} vs ${y.size} bytes)`);
    }
    if (x.mode !== y.mode) diffs.push(`${name}: mode ${x.mode?.toString(8)} vs ${y.mode?.toString(8)}`);
    const skipMtime = x.type === 'dir' && opts.ignoreDirMtimes;
    if (!skipMtime && x.mtimeMs !== y.mtimeMs) diffs.push(`${name}: mtime ${x.mtimeMs} vs ${y.mtimeMs} (ms)`);
  }
  return diffs;
}

/** Paths whose inode changed (or that appeared or vanished) between two snapshots: what a pass rewrote. */
export function inodeChanges(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const out: string[] = [];
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(path)?.ino !== after.get(path)?.ino) out.push(path);
  }
  return out.sort();
}

/** path -> inode number, for proving a pass replaced (or did not replace) particular entries. */
export function inodeMap(root: string): Map<string, bigint> {
  return new Map([...snapshotTree(root)].map(([p, s]) => [p, s.ino]));
}
