// Preload (`node --import`) for tests that watch the built CLI's reads ahead (src/sync/read-ahead.ts): one
// `read-ahead <fd> <position>` line on stderr for each asynchronous fs.read, and `reopen <path> = <fd>` for each
// open of a /proc/self/fd/<n> path (the read-ahead's second descriptor of a file being copied).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const read = fs.read;
fs.read = function (fd, buffer, offset, length, position, callback) {
  process.stderr.write(`read-ahead ${fd} ${position}\n`);
  return read.call(this, fd, buffer, offset, length, position, callback);
};
const open = fs.openSync;
fs.openSync = function (path, ...rest) {
  const fd = open.call(this, path, ...rest);
  if (typeof path === 'string' && /^\/proc\/self\/fd\/\d+$/.test(path)) process.stderr.write(`reopen ${path} = ${fd}\n`);
  return fd;
};
syncBuiltinESMExports();
