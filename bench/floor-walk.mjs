// The bare two-thread walk of both trees that the Node floors share (bench/node-floor.mjs for the no-op,
// bench/node-floor-inc.mjs for the incremental row, bench/node-floor-copy.mjs for the small copies), and the
// times they give utimes (`secs`). Listing is readdir, then lstat with nanosecond times of every entry, as the
// pass lists. The main thread lstats bare names after a chdir into each folder (as the pass's listing does);
// the worker, which cannot move the process's working folder, lstats whole paths (as the look-ahead thread does).
// Each folder is taken once, by whichever thread claims it first (a shared table of claims by path hash); the
// main thread goes front to back, the worker back to front.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SLOTS = 1 << 22;
export const CLAIMED_BY_MAIN = 1;
export const CLAIMED_BY_WORKER = 2;
const DONE = 4;

/**
 * A time (BigInt nanoseconds) for utimes: Node passes seconds as a double, and a millisecond's worth of it can
 * land a few nanoseconds below the millisecond (the replica's time then reads one millisecond early); half a
 * microsecond above it cannot.
 */
export const secs = (ns) => (Number(ns / 1000000n) + 0.0005) / 1000;

/** The shared table of claims, made once by the main thread and handed to the worker. */
export const newClaims = () => new Int32Array(new SharedArrayBuffer(SLOTS * 4));

function slot(rel) {
  let h = 2166136261;
  for (let i = 0; i < rel.length; i++) h = Math.imul(h ^ rel.charCodeAt(i), 16777619);
  return (h >>> 0) & (SLOTS - 1);
}

/**
 * Take the folder at `rel` for this thread: 'mine' (nobody had it: this thread does it), 'done' (the other thread
 * has done its whole subtree) or 'theirs' (the other thread does it; its subfolders may still be free).
 */
export function claim(claims, rel, me) {
  const was = Atomics.compareExchange(claims, slot(rel), 0, me);
  return was === 0 ? 'mine' : was & DONE ? 'done' : 'theirs';
}

/** The subtree at `rel`, claimed by this thread, is done: the other thread need not go into it. */
export function subtreeDone(claims, rel) {
  Atomics.or(claims, slot(rel), DONE);
}

/**
 * Visit the source tree's folders from the top, each folder once across both threads: `mine(rel)` does this
 * thread's work in a folder it claimed and returns the names of its subfolders. A folder the other thread has
 * claimed is only read for its subfolders' names; a subtree it has finished is skipped.
 */
export function claimWalk(src, claims, me, backwards, mine) {
  const visit = (rel) => {
    const was = claim(claims, rel, me);
    if (was === 'done') return; // the other thread has done this subtree
    const folders =
      was === 'mine'
        ? mine(rel)
        : readdirSync(join(src, rel), { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name);
    folders.sort();
    if (backwards) folders.reverse();
    for (const name of folders) visit(rel === '' ? name : `${rel}/${name}`);
    if (was === 'mine') subtreeDone(claims, rel);
  };
  visit('');
}

/**
 * List both trees' folders from the top, claiming each folder pair; `listed(srcDir, dstDir, srcList, dstList)`
 * is called for each pair this thread lists ([name, BigIntStats] lists). Returns the entries this thread lstat'ed.
 */
export function walkBoth(src, dst, claims, me, byName, backwards, listed) {
  const list = byName
    ? (dir) => {
        process.chdir(dir);
        return readdirSync('.').map((name) => [name, lstatSync(name, { bigint: true })]);
      }
    : (dir) => readdirSync(dir).map((name) => [name, lstatSync(join(dir, name), { bigint: true })]);
  let entries = 0;
  claimWalk(src, claims, me, backwards, (rel) => {
    const srcDir = join(src, rel);
    const dstDir = join(dst, rel);
    const srcList = list(srcDir);
    const dstList = list(dstDir);
    entries += srcList.length + dstList.length;
    listed?.(srcDir, dstDir, srcList, dstList);
    return srcList.filter(([, st]) => st.isDirectory()).map(([name]) => name);
  });
  return entries;
}
