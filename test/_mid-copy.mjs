/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS): something happens to the pass at an exact
 * point of a copy, right after it has read the first block of one source file, instead of in a race with a
 * process that tries to hit the copy. No hook in the product: fs.readSync is wrapped, and
 * syncBuiltinESMExports() makes the engine's `import { readSync } from 'node:fs'` see the wrapper.
 *
 * FOLDER_SYNC_TEST_MID_COPY=<action>:<absolute path of the source file>, where action is
 *   grow | shrink | rewrite   another writer changes the file (appends, cuts, or rewrites it with other bytes
 *                             of the same size and a newer mtime), at every copy of it, retries included;
 *   sigterm                   the pass's process receives SIGTERM (once), and this copy lasts 200 ms more: a long
 *                             copy, past the 100 ms after which the pass lets signals in (PROGRESS_EVERY_MS), so
 *                             the signal is seen right after this file whatever the machine's speed;
 *   pause                     the pass stops there for good, its temporary open (for a test to kill it);
 *   move                      (once) the folder FOLDER_SYNC_TEST_MOVE_FROM is renamed to FOLDER_SYNC_TEST_MOVE_TO
 *                             (a replica folder taken out of the replica while the pass writes into it).
 * Each time prints "test hook: <action> <path> (<n>)" on stderr, so a test can check it fired as expected.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.FOLDER_SYNC_TEST_MID_COPY ?? '';
const colon = spec.indexOf(':');
const action = spec.slice(0, colon);
const path = spec.slice(colon + 1);
if (!['grow', 'shrink', 'rewrite', 'sigterm', 'pause', 'move'].includes(action) || !path) {
  throw new Error(`FOLDER_SYNC_TEST_MID_COPY: bad value ${JSON.stringify(spec)}`);
}
const readSync = fs.readSync;
let fired = 0;

/** Change the file behind the pass's back: append, cut or rewrite (same size, other content, newer mtime). */
function change() {
  const fd = fs.openSync(path, 'r+');
  try {
    const st = fs.fstatSync(fd);
    if (action === 'grow') fs.writeSync(fd, Buffer.alloc(4096, 0x41), 0, 4096, st.size);
    else if (action === 'shrink') fs.ftruncateSync(fd, st.size - 4096);
    else {
      // All B, then all A again: a copy that mixed two versions would not be uniform.
      const block = Buffer.alloc(1 << 20, fired % 2 ? 0x42 : 0x41);
      for (let off = 0; off < st.size; off += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, st.size - off), off);
      const mtime = new Date(st.mtimeMs + 1000);
      fs.futimesSync(fd, mtime, mtime);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `fd` is open on the target file (same device and inode as the path now names). */
function isTarget(fd) {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // not there (yet)
  }
}

fs.readSync = function (fd, buffer, ...rest) {
  const n = readSync.call(this, fd, buffer, ...rest);
  // The first block of a copy: the copy loop reads positionally, from position 0.
  const position = rest.length >= 3 ? rest[2] : undefined;
  const once = action === 'sigterm' || action === 'move';
  if (n > 0 && (position === 0 || position === 0n) && !(once && fired > 0) && isTarget(fd)) {
    fired++;
    if (action === 'move') {
      fs.renameSync(process.env.FOLDER_SYNC_TEST_MOVE_FROM ?? '', process.env.FOLDER_SYNC_TEST_MOVE_TO ?? '');
    } else if (action === 'sigterm') {
      process.kill(process.pid, 'SIGTERM');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    } else if (action !== 'pause') change();
    fs.writeSync(2, `test hook: ${action} ${path} (${fired})\n`);
    if (action === 'pause') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until killed
  }
  return n;
};
syncBuiltinESMExports();
