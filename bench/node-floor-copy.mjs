// What Node allows for the initial-copy rows when every file is written the way the pass must write it
// (issue 16, session 12): into a temporary beside its final name, its times set, then renamed into place
// (the project conventions' atomic replacement; `tar x` writes each file once under its own name). A bare program, none
// of the pass's guards: both threads walk the source tree (bench/floor-walk.mjs's claims: the main thread front
// to back, the worker back to front, each folder once), make each folder in the replica and copy its files
// (copyFileSync: copy_file_range, the mode copied; utimes; rename); at the end the main thread gives every folder
// its mode and times, deepest first. Regular files and folders only (the bench's trees hold nothing else).
//
//   node bench/node-floor-copy.mjs <source> <replica, absent>   (one run; bench/run.mjs's 'node tmp+rename' floor)
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, renameSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CLAIMED_BY_MAIN, CLAIMED_BY_WORKER, claimWalk, newClaims, secs } from './floor-walk.mjs';

let serial = 0;

/** Copy the source tree's folders this thread claims; returns the folders it made: [rel, mode, atime, mtime]. */
function copyTree(src, dst, claims, me, backwards) {
  const made = [];
  claimWalk(src, claims, me, backwards, (rel) => {
    const from = join(src, rel);
    const to = join(dst, rel);
    mkdirSync(to, { recursive: true }); // a parent the other thread has not made yet is made here, set later
    const own = lstatSync(from, { bigint: true });
    made.push([rel, Number(own.mode & 0o7777n), secs(own.atimeNs), secs(own.mtimeNs)]);
    const folders = [];
    for (const name of readdirSync(from)) {
      const s = lstatSync(join(from, name), { bigint: true });
      if (s.isDirectory()) {
        folders.push(name);
        continue;
      }
      const tmp = join(to, `.floor-${process.pid}-${me}-${serial++}.tmp`);
      copyFileSync(join(from, name), tmp);
      utimesSync(tmp, secs(s.atimeNs), secs(s.mtimeNs));
      renameSync(tmp, join(to, name));
    }
    return folders;
  });
  return made;
}

if (!isMainThread) {
  const { src, dst, claims } = workerData;
  parentPort.postMessage(copyTree(src, dst, claims, CLAIMED_BY_WORKER, true));
} else {
  const [src, dst] = process.argv.slice(2).map((p) => resolve(p));
  if (!src || !dst) throw new Error('usage: node bench/node-floor-copy.mjs <source> <replica, absent>');
  const claims = newClaims();
  const worker = new Worker(new URL(import.meta.url), { workerData: { src, dst, claims } });
  worker.once('error', (error) => {
    throw error;
  });
  const mine = copyTree(src, dst, claims, CLAIMED_BY_MAIN, false);
  worker.once('message', (theirs) => {
    // Folders last, deepest first: every entry is in place, so nothing changes their times again.
    const all = [...mine, ...theirs].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, mode, atime, mtime] of all) {
      chmodSync(join(dst, rel), mode);
      utimesSync(join(dst, rel), atime, mtime);
    }
    console.log(JSON.stringify({ foldersByMain: mine.length, foldersByWorker: theirs.length }));
  });
}
