import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { claimNext, claimState, finishedItems, finishItem, HelperThread, openBatch, STATE, type ClaimState } from './helper-thread.js';

/**
 * --checksum's content check. Both files are read in 1 MiB block pairs and each pair is compared by hash
 * (hasha); the first differing pair stops the reading. A folder's pairs are compared as one batch shared by this
 * thread and a helper thread (two cores, as rsync's sender and receiver): both take the next piece of work from
 * one shared counter, so a batch costs one message however many files it holds, and files larger than RANGE
 * are split into ranges that both threads read and hash at once.
 *
 * Algorithm: xxh64 (xxhash-wasm, WebAssembly: 13.6 GiB/s a core on the bench machine, where SHA-1 does 2.0
 * GiB/s even with SHA-NI, sha256 1.9, md5 0.8), seeded with a random 64-bit value per thread, so no pair of
 * blocks can be prepared in advance to hash alike. Where WebAssembly is unavailable (node --jitless) blocks are
 * compared by SHA-1 through hasha. Either is loaded by `loadHash()` (compareFiles awaits it; the helper threads
 * and the pass before their first compare), so a pass without --checksum loads neither. The hash never leaves
 * the thread that made it, so nothing depends on the choice.
 */
const SEED = randomBytes(8).readBigUInt64LE();
let blockHash: { algorithm: 'xxh64' | 'sha1'; same: (a: Uint8Array, b: Uint8Array) => boolean } | undefined;
let loading: Promise<void> | undefined;

/** Load the block hash, once a thread: xxh64, or SHA-1 through hasha where WebAssembly cannot run. */
export function loadHash(): Promise<void> {
  return (loading ??= (async () => {
    try {
      const api = await (await import('xxhash-wasm')).default();
      blockHash = { algorithm: 'xxh64', same: (a, b) => api.h64Raw(a, SEED) === api.h64Raw(b, SEED) };
    } catch {
      const { hashSync } = await import('hasha');
      const options = { algorithm: 'sha1', encoding: 'buffer' } as const;
      blockHash = { algorithm: 'sha1', same: (a, b) => Buffer.compare(hashSync(a, options), hashSync(b, options)) === 0 };
    }
  })());
}

/** The block hash in use on this thread (after loadHash()). */
export const checksumAlgorithm = (): 'xxh64' | 'sha1' | undefined => blockHash?.algorithm;

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
  /** `side`: which file of the pair (the walk opens each through its own folder: compareHere). */
  open(path: string, side: 'source' | 'replica'): number;
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  close(fd: number): void;
}

export const fsReader: FileReader = {
  open: (path) => openSync(path, FLAGS),
  read: (fd, buf, offset, length, position) => readSync(fd, buf, offset, length, position),
  close: (fd) => closeSync(fd),
};

let buffers: [Buffer, Buffer] | undefined;
const blockBuffers = (): [Buffer, Buffer] => (buffers ??= [Buffer.allocUnsafe(BLOCK), Buffer.allocUnsafe(BLOCK)]);

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
  if (!blockHash) throw new Error('compare.ts: loadHash() must have finished before contents are compared');
  return blockHash.same(a, b);
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

/** Pairs in one batch at most; a folder with more is compared as several batches. */
export const MAX_PAIRS = 4096;
/** Pair states: no difference found (yet), differs, the source failed on the helper (redone here), failed here. */
const SAME = 0;
const DIFFERS = 1;
const HELPER_FAILED = 2;
const FAILED = 3;

/** The claim counter with one state per pair (helper-thread.ts), and the last batch number handed out (this thread only). */
export interface Shared extends ClaimState {
  seq: number;
}

export function makeShared(buffer?: SharedArrayBuffer): Shared {
  return { ...claimState(MAX_PAIRS, buffer), seq: 0 };
}

/** A batch as both threads work on it: its number, the pairs, each item's pair and first byte. */
export interface Batch {
  seq: number;
  pairs: ComparePair[];
  pair: Int32Array;
  from: Float64Array;
}

/** A batch as it travels to the helper (one message: a string and a few numbers, however many files). */
export interface BatchMessage {
  seq: number;
  /** src0 NUL dst0 NUL src1 NUL dst1 ...: absolute paths (NUL cannot occur in a path). */
  paths: string;
  sizes: Float64Array;
}

/** Pairs as a batch: one item per RANGE bytes of each pair (and one for an empty file). */
export function batchOf(seq: number, pairs: readonly ComparePair[]): Batch {
  let n = 0;
  for (const p of pairs) n += Math.floor(p.size / RANGE) + 1;
  const pair = new Int32Array(n);
  const from = new Float64Array(n);
  let i = 0;
  pairs.forEach((p, k) => {
    for (let f = 0; f <= p.size; f += RANGE, i++) {
      pair[i] = k;
      from[i] = f;
    }
  });
  return { seq, pairs: [...pairs], pair, from };
}

export function encodeBatch(batch: Batch): BatchMessage {
  const sizes = new Float64Array(batch.pairs.length);
  batch.pairs.forEach((p, k) => (sizes[k] = p.size));
  return { seq: batch.seq, paths: batch.pairs.map((p) => `${p.src}\0${p.dst}`).join('\0'), sizes };
}

export function decodeBatch(message: BatchMessage): Batch {
  const paths = message.paths.split('\0');
  const pairs = Array.from(message.sizes, (size, k) => ({ src: paths[2 * k]!, dst: paths[2 * k + 1]!, size }));
  return batchOf(message.seq, pairs);
}

/** Make `batch` the one the shared counter hands out (this thread, with no other batch in progress). */
export function publish(shared: Shared, batch: Batch): void {
  openBatch(shared, batch.seq, batch.pairs.length, SAME);
}

/**
 * Take items of `batch` from the shared counter and compare them until none is left (run by both threads). A
 * batch that is not the current one any more (the helper got to its message late) yields nothing.
 * `failed` records the source's error for a pair (this thread); without it the pair is marked for a redo.
 */
export function workOn(shared: Shared, batch: Batch, reader: FileReader, failed?: (pair: number, error: unknown) => void, limit = Infinity): number {
  const { ints } = shared;
  const total = batch.pair.length;
  const seq = BigInt(batch.seq);
  let done = 0;
  while (done < limit) {
    const item = claimNext(shared, seq, total);
    if (item < 0) break;
    const k = batch.pair[item]!;
    const at = STATE + k;
    try {
      if (Atomics.load(ints, at) === SAME) {
        const same = sameRange(batch.pairs[k]!, batch.from[item]!, reader, () => Atomics.load(ints, at) !== SAME);
        if (!same) Atomics.compareExchange(ints, at, SAME, DIFFERS);
      }
    } catch (error) {
      if (failed && Atomics.compareExchange(ints, at, SAME, FAILED) === SAME) failed(k, error);
      else if (!failed) Atomics.compareExchange(ints, at, SAME, HELPER_FAILED);
    }
    finishItem(shared);
    done++;
  }
  return done;
}

/** The helper thread: compiled to dist/sync/compare-worker.js, absent when the engine runs from its sources. */
const HELPER_URL = new URL('./compare-worker.js', import.meta.url);

/** A compare helper: the thread (helper-thread.ts) and the shared state its batches use. */
class Helper extends HelperThread {
  /** A batch is in progress (one at a time: a second pass in the same process compares on its own thread). */
  busy = false;
  readonly shared: Shared;

  constructor(url: URL, shared = makeShared()) {
    super(url, shared.buffer);
    this.shared = shared;
  }
}

let defaultHelper: Helper | undefined;
const helpers = new Map<string, Helper>();
/** For batches compared on this thread alone (synchronously: never two at once). */
const local = makeShared();

export interface CompareOptions {
  reader?: FileReader;
  /**
   * The helper thread's module, or false for this thread alone. Default: the compiled helper beside this file
   * on a machine with two or more cores; none when the engine runs from its TypeScript sources (unit tests).
   */
  helper?: URL | false;
}

function helperFor(option: URL | false | undefined): Helper | undefined {
  if (option === false) return undefined;
  if (option === undefined) {
    if (!import.meta.url.endsWith('.js') || availableParallelism() < 2) return undefined;
    if (!defaultHelper?.alive) defaultHelper = new Helper(HELPER_URL);
    return defaultHelper;
  }
  let h = helpers.get(option.href);
  if (!h?.alive) helpers.set(option.href, (h = new Helper(option)));
  return h;
}

/** Start the compare helper now (the CLI, first thing for a --checksum pass); where no helper would be used, nothing. */
export function startCompareHelper(): void {
  helperFor(undefined);
}

/** Batches handed to the helper thread so far (tests: one per batch, never one per file). */
export function helperMessages(option?: URL): number {
  return (option ? helpers.get(option.href) : defaultHelper)?.messages ?? 0;
}

/** Stop a helper thread (tests). */
export async function stopHelper(option?: URL): Promise<void> {
  const h = option ? helpers.get(option.href) : defaultHelper;
  if (option) helpers.delete(option.href);
  else defaultHelper = undefined;
  await h?.terminate();
}

/**
 * Compare each pair's contents (see the top of this file). One verdict per pair, in order: the source failing
 * is that pair's Error, never the batch's.
 */
export async function compareFiles(pairs: readonly ComparePair[], options: CompareOptions = {}): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (let i = 0; i < pairs.length; i += MAX_PAIRS) verdicts.push(...(await compareBatch(pairs.slice(i, i + MAX_PAIRS), options)));
  return verdicts;
}

async function compareBatch(pairs: readonly ComparePair[], options: CompareOptions): Promise<Verdict[]> {
  await loadHash();
  const reader = options.reader ?? fsReader;
  // The helper resolves no relative path: the pass moves this thread's working folder while it lists one.
  const absolute = pairs.map((p) => ({ src: absolutePath(p.src), dst: absolutePath(p.dst), size: p.size }));
  // A helper for batches of two or more items; an injected reader is this thread's only (a helper reads files).
  let helper = options.reader === undefined ? helperFor(options.helper) : undefined;
  if (helper?.busy) helper = undefined;
  const shared = helper?.shared ?? local;
  const batch = batchOf(++shared.seq, absolute);
  if (batch.pair.length < 2) helper = undefined;
  const errors = new Map<number, unknown>();
  publish(shared, batch);
  if (helper && !helper.post(encodeBatch(batch))) helper = undefined;
  if (helper) helper.busy = true;
  try {
    workOn(shared, batch, reader, (k, error) => errors.set(k, error));
    if (helper) {
      // Every item is taken; wait for the ones the helper is still comparing (it notifies after each).
      await helper.finished(shared, batch.pair.length);
    }
    return verdictsOf(shared, batch, errors, reader);
  } finally {
    if (helper) {
      helper.busy = false;
      helper.release();
    }
  }
}

function absolutePath(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}

/**
 * The verdicts of a batch whose items were all taken: a pair the helper failed on (the source could not be read
 * there) is compared again here for the real error; so is every undecided pair if the helper died mid-batch.
 */
export function verdictsOf(shared: Shared, batch: Batch, errors: ReadonlyMap<number, unknown>, reader: FileReader = fsReader): Verdict[] {
  const complete = finishedItems(shared) === batch.pair.length;
  return batch.pairs.map((p, k) => {
    const state = Atomics.load(shared.ints, STATE + k);
    if (state === DIFFERS) return false;
    if (state === FAILED) return errors.get(k) as Error;
    if (state === SAME && complete) return true;
    try {
      return sameWhole(p, reader);
    } catch (error) {
      return error as Error;
    }
  });
}

/** A pair compared whole on this thread. */
function sameWhole(p: ComparePair, reader: FileReader): boolean {
  for (let f = 0; f <= p.size; f += RANGE) if (!sameRange(p, f, reader)) return false;
  return true;
}

/**
 * A folder's pairs compared on this thread alone, in order, with `reader`'s opens (the walk passes one that opens
 * names through its opened folders). One verdict per pair, as compareFiles gives them. loadHash() first.
 */
export function compareHere(pairs: readonly ComparePair[], reader: FileReader): Verdict[] {
  return pairs.map((p) => {
    try {
      return sameWhole(p, reader);
    } catch (error) {
      return error as Error;
    }
  });
}

/**
 * True when both files hold exactly `size` bytes and the same ones (one pair, this thread alone). A source that
 * is not `size` long any more counts as different; the source failing to open or read throws; the replica copy
 * failing to open or read counts as different.
 */
export function sameContents(srcPath: string, dstPath: string, size: number, reader: FileReader = fsReader): boolean {
  return sameWhole({ src: srcPath, dst: dstPath, size }, reader);
}
