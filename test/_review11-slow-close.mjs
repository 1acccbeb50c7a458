/**
 * Preload for the built CLI (`node --import` through NODE_OPTIONS), review 11: every asynchronous fs.close starts
 * only 32 turns of the event loop later (setImmediate hops), as when libuv's thread pool is busy with other work
 * (counted in turns, not time: a pass that waits for something else turns the loop only a few times). The
 * pass's handles on replaced files (src/sync/free-later.ts) are closed that way: what waits for their blocks to be
 * freed must wait for the close's callback, not for the call. fs.close is wrapped, and syncBuiltinESMExports()
 * makes the engine's `import { close } from 'node:fs'` see the wrapper.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const { close } = fs;
fs.close = function (fd, callback) {
  let turns = 32;
  const later = () => (--turns > 0 ? setImmediate(later) : close.call(fs, fd, callback));
  setImmediate(later);
};
syncBuiltinESMExports();
