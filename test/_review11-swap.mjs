/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS), review 11: something happens to the replica
 * right before the rename that installs one file, the same in both ways a pass renames (fs.renameSync on the
 * pass's thread, fs.rename beside the walk: walk-late.ts). fs.rename and fs.renameSync are wrapped, and
 * syncBuiltinESMExports() makes the engine's `import { rename, renameSync } from 'node:fs'` see the wrappers.
 *
 * FOLDER_SYNC_TEST_SWAP=<action>:<name>, once, when a rename's target is named <name> (its last name):
 *   dir    the target is replaced by a folder (removed, a folder made at its name, a file inside);
 *   move   the folder FOLDER_SYNC_TEST_MOVE_FROM is renamed to FOLDER_SYNC_TEST_MOVE_TO first;
 *   link   as move, then a symlink to FOLDER_SYNC_TEST_LINK_TO is put where the folder was.
 * Prints "test hook: <action> <name>" on stderr.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';

const spec = process.env.FOLDER_SYNC_TEST_SWAP ?? '';
const colon = spec.indexOf(':');
const action = spec.slice(0, colon);
const name = spec.slice(colon + 1);
if (!['dir', 'move', 'link'].includes(action) || !name) throw new Error(`FOLDER_SYNC_TEST_SWAP: bad value ${JSON.stringify(spec)}`);
let fired = false;

function before(to) {
  if (fired || basename(String(to)) !== name) return;
  fired = true;
  if (action === 'dir') {
    fs.rmSync(to, { force: true });
    fs.mkdirSync(to);
    fs.writeFileSync(join(String(to), 'inside'), 'put there by the test');
  } else {
    fs.renameSync(process.env.FOLDER_SYNC_TEST_MOVE_FROM ?? '', process.env.FOLDER_SYNC_TEST_MOVE_TO ?? '');
    if (action === 'link') fs.symlinkSync(process.env.FOLDER_SYNC_TEST_LINK_TO ?? '', process.env.FOLDER_SYNC_TEST_MOVE_FROM ?? '');
  }
  fs.writeSync(2, `test hook: ${action} ${name}\n`);
}

const { rename, renameSync } = fs;
fs.renameSync = function (from, to) {
  before(to);
  return renameSync.call(this, from, to);
};
fs.rename = function (from, to, callback) {
  before(to);
  return rename.call(this, from, to, callback);
};
syncBuiltinESMExports();
