// Preload (`node --import`) for tests that watch the built CLI's opens: names every file opened for reading
// without waiting (O_NONBLOCK: the --checksum compare's opens and the copy's), one `open <path>` line on stderr each.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const open = fs.openSync;
fs.openSync = function (path, flags, ...rest) {
  if (typeof flags === 'number' && flags & fs.constants.O_NONBLOCK) process.stderr.write(`open ${path}\n`);
  return open.call(this, path, flags, ...rest);
};
syncBuiltinESMExports();
