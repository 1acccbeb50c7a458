import { closeSync, constants, openSync, read, readSync } from 'node:fs';

/**
 * --checksum's content check: read both files and compare their bytes. Strictly stronger than comparing two
 * hashes (no collision can hide a difference) and cheaper: nothing is hashed, the replica side is read by a
 * libuv thread while this thread reads the source side, and a difference stops the reading early.
 */

const CHUNK = 1 << 20;
let buffers: [Buffer, Buffer] | undefined;

function readAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

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
 * True when both files hold exactly `size` bytes and the same ones. A file that is not `size` long any more
 * (changed since it was listed) counts as different, so the caller copies it and the copy re-checks it.
 * Links are never followed (O_NOFOLLOW): both paths were listed as regular files.
 */
export async function sameContents(srcPath: string, dstPath: string, size: number): Promise<boolean> {
  const [a, b] = (buffers ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW;
  const fa = openSync(srcPath, flags);
  try {
    const fb = openSync(dstPath, flags);
    try {
      // Read one byte past `size` so a file that grew is noticed.
      for (let pos = 0; pos <= size; pos += CHUNK) {
        const want = Math.min(CHUNK, size + 1 - pos);
        let nb: number;
        let na: number;
        if (want < 64 * 1024) {
          // Small reads: a thread hop costs more than it saves.
          na = readFull(fa, a, want, pos);
          nb = readFull(fb, b, want, pos);
        } else {
          const pending = readFullAsync(fb, b, want, pos);
          na = readFull(fa, a, want, pos);
          nb = await pending;
        }
        if (na !== nb || a.compare(b, 0, nb, 0, na) !== 0) return false;
        if (na < want) return pos + na === size;
      }
      return false; // more than `size` bytes
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

async function readFullAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const n = await readAsync(fd, buf.subarray(got), length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
