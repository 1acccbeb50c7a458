/**
 * Preload for the built CLI (`node --import`, through NODE_OPTIONS; see _held-log.ts): the pass's log file
 * "fills up" like an unread pipe. Writes to the log go through until 64 KiB are out, then the next one waits
 * until the test creates the release file, so the pass blocks inside its work, holding its lock. A regular file
 * (a FIFO log is refused since issue 11) and no hook in the product: fs.writeSync is wrapped, and
 * syncBuiltinESMExports() makes the reporter's `import { writeSync } from 'node:fs'` see the wrapper.
 *
 * FOLDER_SYNC_TEST_HELD_LOG=<absolute log path>:<absolute release file>
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.FOLDER_SYNC_TEST_HELD_LOG ?? '';
const colon = spec.indexOf(':');
const log = spec.slice(0, colon);
const release = spec.slice(colon + 1);
if (!log || !release) throw new Error(`FOLDER_SYNC_TEST_HELD_LOG: bad value ${JSON.stringify(spec)}`);
const PIPE = 64 * 1024;
const writeSync = fs.writeSync;
let written = 0;

/** True when `fd` is open on the log file (same device and inode as its path). */
function isLog(fd) {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(log);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

fs.writeSync = function (fd, ...rest) {
  if (typeof fd === 'number' && fd > 2 && isLog(fd)) {
    if (written >= PIPE) {
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (!fs.existsSync(release)) Atomics.wait(nap, 0, 0, 5); // held until the test lets it go
    }
    const n = writeSync.call(this, fd, ...rest);
    written += n;
    return n;
  }
  return writeSync.call(this, fd, ...rest);
};
syncBuiltinESMExports();
