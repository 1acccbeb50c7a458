import { closeSync, constants, openSync, readSync } from 'node:fs';

/**
 * --checksum's content check: read both files and compare their bytes. Strictly stronger than comparing two
 * hashes (no collision can hide a difference) and cheaper: nothing is hashed, and a difference stops the
 * reading early. Plain synchronous reads in 1 MiB chunks measured fastest here (reading the replica's chunk
 * on a libuv thread in parallel was slower: the hop costs more than memcpy from the page cache; see
 * bench/PROFILING.md).
 */

const CHUNK = 1 << 20;
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW; // both were listed as regular files: never follow a link
let buffers: [Buffer, Buffer] | undefined;

function readFull(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * True when both files hold exactly `size` bytes and the same ones. A source that is not `size` long any more
 * counts as different (the copy that follows re-checks it). The source failing to open or read throws (a
 * failed entry); the replica copy failing to open or read counts as different (it is replaced).
 */
export function sameContents(srcPath: string, dstPath: string, size: number): boolean {
  const [a, b] = (buffers ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
  const fa = openSync(srcPath, FLAGS);
  try {
    let fb: number;
    try {
      fb = openSync(dstPath, FLAGS);
    } catch {
      return false;
    }
    try {
      // Read one byte past `size`, so a file that grew is noticed.
      for (let pos = 0; pos <= size; pos += CHUNK) {
        const want = Math.min(CHUNK, size + 1 - pos);
        let nb: number;
        try {
          nb = readFull(fb, b, want, pos);
        } catch {
          return false;
        }
        const na = readFull(fa, a, want, pos);
        if (na !== nb || a.compare(b, 0, nb, 0, na) !== 0) return false;
        if (na < want) return pos + na === size;
      }
      return false; // longer than `size`
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}
