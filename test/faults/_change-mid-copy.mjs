/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS), used by source-changes.test.ts: the pass
 * itself changes one source file right after it has read the first block of each copy of it, exactly as another
 * writer would in the middle of the copy. An exact point instead of a race with a writer process, and no hook
 * in the product: fs.readSync is wrapped, and syncBuiltinESMExports() makes the engine's
 * `import { readSync } from 'node:fs'` see the wrapper.
 *
 * FOLDER_SYNC_TEST_CHANGE=<grow|shrink|rewrite>:<absolute path>. Each change prints
 * "test hook: changed <path> (<how> <n>)" on stderr, so the test can check the hook fired where it expected.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.FOLDER_SYNC_TEST_CHANGE ?? '';
const colon = spec.indexOf(':');
const how = spec.slice(0, colon);
const path = spec.slice(colon + 1);
if (!['grow', 'shrink', 'rewrite'].includes(how) || !path) throw new Error(`FOLDER_SYNC_TEST_CHANGE: bad value ${JSON.stringify(spec)}`);
const target = fs.statSync(path);
const readSync = fs.readSync;
let changes = 0;

/** Change the file behind another writer's back: append, cut or rewrite (same size, other content, newer mtime). */
function change() {
  changes++;
  const fd = fs.openSync(path, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    if (how === 'grow') fs.writeSync(fd, Buffer.alloc(4096, 0x41), 0, 4096, size);
    else if (how === 'shrink') fs.ftruncateSync(fd, size - 4096);
    else {
      // All B, then all A again: a copy that mixed the two would not be uniform.
      const block = Buffer.alloc(1 << 20, changes % 2 ? 0x42 : 0x41);
      for (let off = 0; off < size; off += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - off), off);
      const mtime = new Date(target.mtimeMs + changes * 1000);
      fs.futimesSync(fd, mtime, mtime);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.writeSync(2, `test hook: changed ${path} (${how} ${changes})\n`);
}

fs.readSync = function (fd, buffer, ...rest) {
  const n = readSync.call(this, fd, buffer, ...rest);
  // The first block of a copy: read at position 0 (the copy reads positionally) from the target file.
  const position = rest.length >= 3 ? rest[2] : undefined;
  if (n > 0 && (position === 0 || position === 0n)) {
    const st = fs.fstatSync(fd);
    if (st.dev === target.dev && st.ino === target.ino) change();
  }
  return n;
};
syncBuiltinESMExports();
