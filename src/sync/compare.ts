import { closeSync, constants, openSync, readSync } from 'node:fs';
import { makeBlockHash, type BlockHash } from './block-hash.js';

/**
 * --checksum's content check. Both files are read in 1 MiB block pairs and each pair is compared by hash
 * (hasha); the first differing pair stops the reading. A folder's pairs are compared as one batch shared by the
 * pass's thread and a helper thread (compare-batch.ts, compare-files.ts; two cores, as rsync's sender and
 * receiver): both take the next piece of work from one shared counter, so a batch costs one message however
 * many files it holds, and files larger than RANGE are split into ranges that both threads read and hash at once.
 *
 * Algorithm (block-hash.ts): xxh64 (xxhash-wasm, WebAssembly: 13.6 GiB/s a core on the bench machine, where
 * SHA-1 does 2.0 GiB/s even with SHA-NI, sha256 1.9, md5 0.8), seeded with a random 64-bit value per thread, so
 * no pair of blocks can be prepared in advance to hash alike, and hashed where the blocks were read (its
 * WebAssembly memory: no copy). Where WebAssembly is unavailable (node --jitless) blocks are compared by SHA-1
 * through hasha. Either is loaded by `loadHash()` (compareFiles awaits it; the helper threads
 * and the pass before their first compare), so a pass without --checksum loads neither. The hash never leaves
 * the thread that made it, so nothing depends on the choice.
 */
let blockHash: BlockHash | undefined;
let loading: Promise<void> | undefined;

/** Load the block hash, once a thread: xxh64 (hashed in place where it can be), or SHA-1 through hasha. */
export function loadHash(): Promise<void> {
  return (loading ??= makeBlockHash(BLOCK).then((hash) => {
    blockHash = hash;
  }));
}

/** The block hash in use on this thread (after loadHash()). */
export const checksumAlgorithm = (): 'xxh64' | 'sha1' | undefined => blockHash?.algorithm;

/** Whether this thread hashes blocks where it read them (block-hash.ts; after loadHash()). */
export const hashesInPlace = (): boolean | undefined => blockHash?.inPlace;

/** The unit of reading and hashing: two of these (one per side) per thread. */
export const BLOCK = 1 << 20;
/** Files of more than this many bytes are split into ranges of this size, each compared by either thread. */
export const RANGE = 8 * BLOCK;
// Both were listed as regular files: never follow a link, and never wait on a FIFO swapped in since (a blocking open
// of a FIFO without a writer would stall the pass for good; non-blocking, it reads as empty: different).
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface ComparePair {
  src: string;
  dst: string;
  /** The source's size as listed: a source of any other length counts as different (the copy re-checks it). */
  size: number;
}

/** true: the same bytes; false: different, or the replica copy could not be opened or read; an Error: the source could not be. */
export type Verdict = boolean | Error;

/** How files are opened and read (an injected reader lets tests count reads). */
export interface FileReader {
  /** `side`: which file of the pair (the walk opens each through its own folder: compare-in-folders.ts). */
  open(path: string, side: 'source' | 'replica'): number;
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  close(fd: number): void;
}

export const fsReader: FileReader = {
  open: (path) => openSync(path, FLAGS),
  read: (fd, buf, offset, length, position) => readSync(fd, buf, offset, length, position),
  close: (fd) => closeSync(fd),
};

const blockBuffers = (): readonly [Buffer, Buffer] => loaded().buffers;

function loaded(): BlockHash {
  if (!blockHash) throw new Error('compare.ts: loadHash() must have finished before contents are compared');
  return blockHash;
}

/**
 * Read up to `want` bytes at `position`. A short read that ends exactly where the listed size says the file
 * ends is taken as the end without a second read (regular files read short only at their end); any other short
 * read is retried until `want` bytes or end of file.
 */
function readBlock(reader: FileReader, fd: number, buf: Buffer, want: number, position: number, expected: number): number {
  let got = 0;
  while (got < want) {
    const n = reader.read(fd, buf, got, want - got, position + got);
    if (n === 0) break;
    got += n;
    if (got === expected) break;
  }
  return got;
}

function sameHash(a: Buffer, b: Buffer): boolean {
  return loaded().same(a, b);
}

/**
 * Compare the bytes [from, from + RANGE) of a pair (the last range also reads one byte past the listed size, so
 * a file that grew is noticed). Returns false at the first differing block pair, or as soon as `stop()` says
 * another range of the pair already differs. Throws when the source cannot be opened or read.
 */
export function sameRange(pair: ComparePair, from: number, reader: FileReader = fsReader, stop: () => boolean = () => false): boolean {
  const end = Math.min(from + RANGE, pair.size + 1);
  const [a, b] = blockBuffers();
  const fa = reader.open(pair.src, 'source');
  try {
    let fb: number;
    try {
      fb = reader.open(pair.dst, 'replica');
    } catch {
      return false;
    }
    try {
      for (let pos = from; pos < end; pos += BLOCK) {
        if (pos > from && stop()) return false;
        const want = Math.min(BLOCK, end - pos);
        const expected = pair.size - pos;
        let nb: number;
        try {
          nb = readBlock(reader, fb, b, want, pos, expected);
        } catch {
          return false;
        }
        const na = readBlock(reader, fa, a, want, pos, expected);
        if (na !== nb || !sameHash(a.subarray(0, na), b.subarray(0, nb))) return false;
        if (na < want) return pos + na === pair.size;
      }
      return end <= pair.size; // the last range read a byte past the listed size: the files are longer
    } finally {
      reader.close(fb);
    }
  } finally {
    reader.close(fa);
  }
}

/** A pair compared whole on this thread. */
export function sameWhole(p: ComparePair, reader: FileReader): boolean {
  for (let f = 0; f <= p.size; f += RANGE) if (!sameRange(p, f, reader)) return false;
  return true;
}

/**
 * True when both files hold exactly `size` bytes and the same ones (one pair, this thread alone). A source that
 * is not `size` long any more counts as different; the source failing to open or read throws; the replica copy
 * failing to open or read counts as different.
 */
export function sameContents(srcPath: string, dstPath: string, size: number, reader: FileReader = fsReader): boolean {
  return sameWhole({ src: srcPath, dst: dstPath, size }, reader);
}
