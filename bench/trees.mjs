// Deterministic, seeded benchmark trees. Generated once into a cache folder outside the repo and reused.
// Contents come from AES-128-CTR with a fixed key (fast, reproducible); names, sizes and mtimes from a seeded PRNG.
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prng } from '../dist/demo/prng.js';

/** Bump when the shape of a tree changes, so stale caches are regenerated. */
export const TREES_VERSION = 1;

/** The demo generator's seeded PRNG (mulberry32, src/demo/prng.ts; `npm run bench` builds dist first). */
export function prng(seed) {
  const p = new Prng(seed);
  return () => p.next();
}

/** A deterministic byte stream: AES-CTR over zeros, keyed by the seed. */
function byteStream(seed) {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let pool = Buffer.alloc(0);
  return (n) => {
    if (pool.length < n) {
      const chunks = [pool];
      let have = pool.length;
      while (have < n) {
        const c = cipher.update(zeros);
        chunks.push(c);
        have += c.length;
      }
      pool = Buffer.concat(chunks);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return out;
  };
}

// Whole-millisecond mtimes from a fixed epoch (2024-01-01): identical on every machine and exactly
// representable by both tools (folder-sync promises milliseconds; rsync's default quick check compares seconds).
const EPOCH_MS = Date.UTC(2024, 0, 1);
function mtimeFor(rand) {
  return EPOCH_MS + Math.floor(rand() * 365 * 86400_000);
}
function setTime(path, ms) {
  const s = ms / 1000;
  utimesSync(path, s, s);
}

/**
 * Nested folders: folder i hangs under a random earlier folder, which gives a random tree of depth ~log(n).
 * Returns relative folder paths, parents before children.
 */
function folderPaths(count, rand) {
  const paths = [''];
  for (let i = 1; i < count; i++) {
    const parent = paths[Math.floor(rand() * i)];
    paths.push(join(parent, `d${i.toString(36)}`));
  }
  return paths;
}

/** A tree of `files` files of 0..maxSize bytes spread over `folders` nested folders. */
export function makeSmallTree(root, { files, folders, maxSize, seed }) {
  const rand = prng(seed);
  const bytes = byteStream(seed);
  const dirs = folderPaths(folders, rand);
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  const dirTimes = dirs.map(() => mtimeFor(rand));
  for (let i = 0; i < files; i++) {
    const dir = dirs[Math.floor(rand() * dirs.length)];
    const size = Math.floor(rand() * (maxSize + 1));
    const path = join(root, dir, `f${i.toString(36)}.dat`);
    writeFileSync(path, bytes(size));
    setTime(path, mtimeFor(rand));
  }
  // Folder times last, deepest first, after their contents were written.
  for (let i = dirs.length - 1; i >= 0; i--) setTime(join(root, dirs[i]), dirTimes[i]);
}

/** 4 x 256 MiB plus 200 files up to 200 KiB. */
export function makeLargeTree(root, { seed, bigFiles = 4, bigSize = 256 << 20, smallFiles = 200, smallMax = 200 << 10 }) {
  const rand = prng(seed);
  const bytes = byteStream(seed);
  mkdirSync(join(root, 'big'), { recursive: true });
  mkdirSync(join(root, 'small'), { recursive: true });
  for (let i = 0; i < bigFiles; i++) {
    const path = join(root, 'big', `big${i}.bin`);
    // 16 MiB at a time: the whole file never sits in memory.
    writeFileSync(path, '');
    for (let off = 0; off < bigSize; off += 16 << 20) {
      writeFileSync(path, bytes(Math.min(16 << 20, bigSize - off)), { flag: 'a' });
    }
    setTime(path, mtimeFor(rand));
  }
  for (let i = 0; i < smallFiles; i++) {
    const path = join(root, 'small', `s${i}.bin`);
    writeFileSync(path, bytes(Math.floor(rand() * (smallMax + 1))));
    setTime(path, mtimeFor(rand));
  }
  setTime(join(root, 'big'), mtimeFor(rand));
  setTime(join(root, 'small'), mtimeFor(rand));
}

/**
 * A stale replica of a small tree: a copy with `edits` files edited (new bytes, new mtime; half keep their size)
 * and `extras` files the source does not have.
 */
export function makeStaleTree(source, root, spec, { seed, edits, extras }) {
  execFileSync('cp', ['-a', `${source}/.`, root]);
  const rand = prng(seed);
  const bytes = byteStream(seed);
  // Recompute the source's layout (same seed) to know where every file lives.
  const layout = smallLayout(spec);
  const picked = new Set();
  while (picked.size < edits) picked.add(Math.floor(rand() * spec.files));
  for (const i of picked) {
    const { path, size } = layout.files[i];
    const newSize = rand() < 0.5 ? size : Math.floor(rand() * 8193);
    const full = join(root, path);
    writeFileSync(full, bytes(newSize));
    setTime(full, mtimeFor(rand));
  }
  for (let i = 0; i < extras; i++) {
    const dir = layout.dirs[Math.floor(rand() * layout.dirs.length)];
    const full = join(root, dir, `extra${i.toString(36)}.dat`);
    writeFileSync(full, bytes(Math.floor(rand() * 8193)));
    setTime(full, mtimeFor(rand));
  }
}

/** The folder and file layout makeSmallTree produces for a seed, without writing anything. */
function smallLayout({ files, folders, maxSize, seed }) {
  const rand = prng(seed);
  const dirs = folderPaths(folders, rand);
  dirs.forEach(() => mtimeFor(rand));
  const out = [];
  for (let i = 0; i < files; i++) {
    const dir = dirs[Math.floor(rand() * dirs.length)];
    const size = Math.floor(rand() * (maxSize + 1));
    out.push({ path: join(dir, `f${i.toString(36)}.dat`), size });
    mtimeFor(rand);
  }
  return { dirs, files: out };
}

export const SMALL = { files: 100_000, folders: 3_000, maxSize: 8192, seed: 1 };
export const HUGE = { files: 1_000_000, folders: 30_000, maxSize: 1024, seed: 3 };
export const SMOKE = { files: 300, folders: 12, maxSize: 8192, seed: 7 };

/** Build `name` under `cache` with `build(tmpRoot)` unless a finished copy exists (a marker file says so). */
export function cached(cache, name, build) {
  const root = join(cache, `${name}-v${TREES_VERSION}`);
  if (existsSync(`${root}.done`)) return root;
  const tmp = `${root}.building`;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  build(tmp);
  renameSync(tmp, root);
  writeFileSync(`${root}.done`, new Date().toISOString());
  return root;
}
