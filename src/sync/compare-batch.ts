/**
 * A folder's content checks as one batch that the pass's thread and the compare helper thread (compare-worker.ts)
 * both work on: what either thread runs of it, apart from the pass's side (compare-files.ts), so the helper loads
 * no more than this and compare.ts.
 */
import { claimNext, claimState, finishedItems, finishItem, openBatch, STATE, type ClaimState } from './helper-thread.js';
import { fsReader, RANGE, sameRange, sameWhole, type ComparePair, type FileReader, type Verdict } from './compare.js';

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
