/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS): just before the pass renames a temporary over
 * the replica file named FOLDER_SYNC_TEST_RENAME_INTO (an absolute path), that file is replaced by a folder
 * holding one file, so the rename fails (EISDIR) at an exact point, whether it runs on the pass's thread
 * (renameSync) or beside the walk (fs.rename, src/sync/walk-late.ts). No hook in the product: both are wrapped,
 * and syncBuiltinESMExports() makes the engine's `import { rename, renameSync } from 'node:fs'` see the wrappers.
 * Prints "test hook: folder in place of <path>" on stderr when it fires (once).
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';

const target = process.env.FOLDER_SYNC_TEST_RENAME_INTO ?? '';
if (!target.startsWith('/')) throw new Error(`FOLDER_SYNC_TEST_RENAME_INTO: bad value ${JSON.stringify(target)}`);
const { rename, renameSync } = fs;
let fired = false;

/** Is `to` (a bare name, or a path through a folder's handle) the target file? */
function isTarget(to) {
  if (fired || basename(String(to)) !== basename(target)) return false;
  try {
    const st = fs.lstatSync(target);
    const at = fs.lstatSync(to);
    return st.dev === at.dev && st.ino === at.ino;
  } catch {
    return false;
  }
}

function swap() {
  fired = true;
  fs.rmSync(target);
  fs.mkdirSync(target);
  fs.writeFileSync(join(target, 'inside'), 'not the pass');
  fs.writeSync(2, `test hook: folder in place of ${target}\n`);
}

fs.rename = function (from, to, callback) {
  if (isTarget(to)) swap();
  return rename.call(this, from, to, callback);
};
fs.renameSync = function (from, to) {
  if (isTarget(to)) swap();
  return renameSync.call(this, from, to);
};
syncBuiltinESMExports();
