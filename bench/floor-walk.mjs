// The bare two-thread walk of both trees that the Node floors share (bench/node-floor.mjs for the no-op,
// bench/node-floor-inc.mjs for the incremental row): readdir, then lstat with nanosecond times of every entry, as
// the pass lists. The main thread lstats bare names after a chdir into each folder (as the pass's listing does);
// the worker, which cannot move the process's working folder, lstats whole paths (as the look-ahead thread does).
// Each folder pair is listed once, by whichever thread claims it first (a shared table of claims by path hash);
// the main thread goes front to back, the worker back to front.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SLOTS = 1 << 22;
export const CLAIMED_BY_MAIN = 1;
export const CLAIMED_BY_WORKER = 2;
const DONE = 4;

/** The shared table of claims, made once by the main thread and handed to the worker. */
export const newClaims = () => new Int32Array(new SharedArrayBuffer(SLOTS * 4));

function slot(rel) {
  let h = 2166136261;
  for (let i = 0; i < rel.length; i++) h = Math.imul(h ^ rel.charCodeAt(i), 16777619);
  return (h >>> 0) & (SLOTS - 1);
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
  const visit = (rel) => {
    const at = slot(rel);
    const was = Atomics.compareExchange(claims, at, 0, me);
    if (was & DONE) return; // the other thread has listed this subtree
    let folders;
    if (was === 0) {
      const srcDir = join(src, rel);
      const dstDir = join(dst, rel);
      const srcList = list(srcDir);
      const dstList = list(dstDir);
      entries += srcList.length + dstList.length;
      listed?.(srcDir, dstDir, srcList, dstList);
      folders = srcList.filter(([, st]) => st.isDirectory()).map(([name]) => name);
    } else {
      // Claimed by the other thread, which lists it; only its subfolders may still be free (names only).
      folders = readdirSync(join(src, rel), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    }
    folders.sort();
    if (backwards) folders.reverse();
    for (const name of folders) visit(rel === '' ? name : `${rel}/${name}`);
    if (was === 0) Atomics.or(claims, at, DONE);
  };
  visit('');
  return entries;
}
