import { closeSync, constants, openSync, readSync } from 'node:fs';
import { hash, hashSync } from 'hasha';

/**
 * --checksum's content check: both files are read in 1 MiB blocks and each pair of blocks is compared by hash
 * (hasha, SHA-1: the fastest of the algorithms Node's crypto offers here, ~1.2 GB/s a core). Block by block, so
 * a difference stops the reading early and memory stays at two blocks; the whole-file result is the same as
 * comparing whole-file hashes. Plain synchronous reads measured fastest here (see bench/PROFILING.md).
 */

export const CHECKSUM_ALGORITHM = 'sha1';
const CHUNK = 1 << 20;
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW; // both were listed as regular files: never follow a link
/** From this size on, one side's blocks are hashed on hasha's worker thread while this thread hashes the other's. */
export const PARALLEL_FROM = 8 * CHUNK;
/** Larger blocks for the two-core path: fewer hand-offs to the worker per file. */
const PARALLEL_CHUNK = 8 * CHUNK;
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
export async function sameContents(srcPath: string, dstPath: string, size: number): Promise<boolean> {
  const parallel = size >= PARALLEL_FROM;
  // A large file awaits the worker between blocks: it gets buffers of its own, the shared pair stays for small files.
  const [a, b] = parallel
    ? [Buffer.allocUnsafe(PARALLEL_CHUNK), Buffer.allocUnsafe(PARALLEL_CHUNK)]
    : (buffers ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]);
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
      const block = parallel ? PARALLEL_CHUNK : CHUNK;
      for (let pos = 0; pos <= size; pos += block) {
        const want = Math.min(block, size + 1 - pos);
        let nb: number;
        try {
          nb = readFull(fb, b, want, pos);
        } catch {
          return false;
        }
        const na = readFull(fa, a, want, pos);
        if (na !== nb) return false;
        const equal = parallel ? await sameHashOnTwoCores(a.subarray(0, na), b.subarray(0, nb)) : sameHash(a.subarray(0, na), b.subarray(0, nb));
        if (!equal) return false;
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

function sameHash(a: Buffer, b: Buffer): boolean {
  return hashSync(a, { algorithm: CHECKSUM_ALGORITHM }) === hashSync(b, { algorithm: CHECKSUM_ALGORITHM });
}

/** hasha copies `a` to its worker thread and hashes it there while this thread hashes `b`. */
async function sameHashOnTwoCores(a: Buffer, b: Buffer): Promise<boolean> {
  const pending = hash(a, { algorithm: CHECKSUM_ALGORITHM });
  const hb = hashSync(b, { algorithm: CHECKSUM_ALGORITHM });
  return (await pending) === hb;
}
