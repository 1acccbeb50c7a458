import { closeSync, constants, openSync, read, readSync } from 'node:fs';

/**
 * --checksum's content check: read both files and compare their bytes. Strictly stronger than comparing two
 * hashes (no collision can hide a difference) and cheaper: nothing is hashed, a difference stops the reading
 * early, and for large files a libuv thread reads the replica's chunk while this thread reads the source's.
 */

const CHUNK = 1 << 20;
/** Below this, a thread hop costs more than the parallel read saves. */
const PARALLEL_FROM = 64 * 1024;
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

function readOnce(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

async function readFullAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const n = await readOnce(fd, buf, got, length - got, position + got);
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
export async function sameContents(srcPath: string, dstPath: string, size: number): Promise<boolean> {
  const [a, b] = (buffers ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
  const fa = openSync(srcPath, FLAGS);
  let fb: number;
  try {
    fb = openSync(dstPath, FLAGS);
  } catch {
    closeSync(fa);
    return false;
  }
  let pending: Promise<number> | undefined;
  try {
    // Read one byte past `size`, so a file that grew is noticed.
    for (let pos = 0; pos <= size; pos += CHUNK) {
      const want = Math.min(CHUNK, size + 1 - pos);
      let nb: number;
      if (want >= PARALLEL_FROM) {
        // -1: the replica copy could not be read, which makes it different.
        pending = readFullAsync(fb, b, want, pos).catch(() => -1);
        const na = readFull(fa, a, want, pos);
        nb = await pending;
        pending = undefined;
        if (!sameChunk(a, na, b, nb)) return false;
        if (na < want) return pos + na === size;
      } else {
        try {
          nb = readFull(fb, b, want, pos);
        } catch {
          return false;
        }
        const na = readFull(fa, a, want, pos);
        if (!sameChunk(a, na, b, nb)) return false;
        if (na < want) return pos + na === size;
      }
    }
    return false; // longer than `size`
  } finally {
    // Never close a descriptor a libuv thread is still reading (the source read threw meanwhile).
    if (pending) await pending;
    closeSync(fb);
    closeSync(fa);
  }
}

function sameChunk(a: Buffer, na: number, b: Buffer, nb: number): boolean {
  return na === nb && a.compare(b, 0, nb, 0, na) === 0;
}
