/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS; review 16, test/security/ancestor-move.test.ts):
 * an attacker who wins the race between the pass's look at a replica folder's path (`readlink` of
 * /proc/self/fd/<fd>, folder-guards.ts `whereNow`) and its checks of the folders above, once: at the first such
 * look, FOLDER_SYNC_TEST_MOVE_FROM is moved to FOLDER_SYNC_TEST_MOVE_TO just before it and back just after; then,
 * at the first block the pass reads of any file, moved there for good. No hook in the product: fs is wrapped, and
 * syncBuiltinESMExports() makes the engine's imports see the wrappers. Prints "test hook: ..." on stderr.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const from = process.env.FOLDER_SYNC_TEST_MOVE_FROM ?? '';
const to = process.env.FOLDER_SYNC_TEST_MOVE_TO ?? '';
const { readlinkSync, readSync } = fs;
let stage = 0;

fs.readlinkSync = function (path, options) {
  if (stage === 0 && String(path).startsWith('/proc/self/fd/') && options?.encoding === 'buffer') {
    stage = 1;
    fs.renameSync(from, to);
    try {
      const seen = readlinkSync.call(this, path, options);
      fs.writeSync(2, `test hook: path seen while moved out: ${seen}\n`);
      return seen;
    } finally {
      fs.renameSync(to, from);
    }
  }
  return readlinkSync.call(this, path, options);
};

fs.readSync = function (fd, buffer, ...rest) {
  const n = readSync.call(this, fd, buffer, ...rest);
  if (stage === 1 && n > 0 && (rest[2] === 0 || rest[2] === 0n)) {
    stage = 2;
    fs.renameSync(from, to);
    fs.writeSync(2, 'test hook: moved out for good\n');
  }
  return n;
};
syncBuiltinESMExports();
