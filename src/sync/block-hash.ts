import { randomBytes } from 'node:crypto';

/**
 * --checksum's block hash, one per thread (compare.ts reads the blocks and asks `same`).
 *
 * xxh64 through xxhash-wasm (WebAssembly), seeded with a random 64-bit value per thread so no pair of blocks can
 * be prepared in advance to hash alike; SHA-1 through hasha where WebAssembly cannot run (node --jitless).
 *
 * In place (issue 16, session 7): xxhash-wasm's `h64Raw` copies every block into its WebAssembly memory before
 * hashing it, one more pass over each byte than the read itself. Its module exports that memory and the
 * `xxh64(offset, length, seed)` it hashes with, but its API does not hand out the instance; the instance is
 * taken while the library instantiates it (WebAssembly.instantiate wrapped for that one call) and the blocks
 * are then read straight into that memory and hashed where they lie. Taken only when the instance has exactly
 * what is needed and hashes a random block as `h64Raw` does (a self-check at load); anything else keeps the
 * copying path, with the same verdicts. Measured: 256 MiB pairs compared in 50 ms instead of 62 ms a thread
 * (docs/benchmark.md).
 */
export interface BlockHash {
  readonly algorithm: 'xxh64' | 'sha1';
  /** Blocks are hashed where they were read (xxh64 in its own memory): no copy. */
  readonly inPlace: boolean;
  /** The two buffers a thread reads its block pairs into (one a side), `size` bytes each. */
  readonly buffers: readonly [Buffer, Buffer];
  /** Whether two blocks hash alike. */
  same(a: Buffer, b: Buffer): boolean;
}

const SEED = randomBytes(8).readBigUInt64LE();
const MASK = (1n << 64n) - 1n;

/** What is used of WebAssembly (the project's type libraries do not declare it: no DOM types). */
interface Wasm {
  instantiate: (...args: unknown[]) => Promise<unknown>;
  Memory: abstract new (...args: never[]) => { readonly buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

interface XxhashExports {
  mem: { readonly buffer: ArrayBuffer };
  xxh64: (offset: number, length: number, seed: bigint) => bigint;
}

/** The xxhash-wasm API, with the instance it made when that instance is usable in place. */
async function xxhashWithInstance(): Promise<{ h64Raw: (data: Uint8Array, seed?: bigint) => bigint; exports?: XxhashExports }> {
  const load = (await import('xxhash-wasm')).default;
  const instantiate = wasm.instantiate;
  let made: unknown;
  wasm.instantiate = async (...args: unknown[]) => {
    const result = await instantiate.apply(wasm, args);
    made ??= result;
    return result;
  };
  let api: Awaited<ReturnType<typeof load>>;
  try {
    api = await load();
  } finally {
    wasm.instantiate = instantiate;
  }
  const exports = (made as { instance?: { exports?: Partial<XxhashExports> } } | undefined)?.instance?.exports;
  const usable = exports?.mem instanceof wasm.Memory && typeof exports.xxh64 === 'function';
  return { h64Raw: api.h64Raw, exports: usable ? (exports as XxhashExports) : undefined };
}

/** xxh64, in place where the self-check passes. */
async function xxh64(size: number): Promise<BlockHash> {
  const { h64Raw, exports } = await xxhashWithInstance();
  const copying: BlockHash = {
    algorithm: 'xxh64',
    inPlace: false,
    buffers: [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)],
    same: (a, b) => h64Raw(a, SEED) === h64Raw(b, SEED),
  };
  if (!exports) return copying;
  // Let the library grow its memory to both buffers first (it keeps its own view, renewed only when it grows
  // the memory itself); nothing calls h64Raw on this path afterwards, so the memory never grows again.
  h64Raw(new Uint8Array(2 * size), SEED);
  const memory = exports.mem.buffer;
  if (memory.byteLength < 2 * size) return copying;
  const buffers = [Buffer.from(memory, 0, size), Buffer.from(memory, size, size)] as const;
  const hashAt = (block: Buffer): bigint => exports.xxh64(block.byteOffset, block.length, SEED) & MASK;
  // Self-check: a random block of odd length, at both places, hashes as the library's own h64Raw hashes it.
  const probe = randomBytes(4099);
  for (const block of buffers) probe.copy(block);
  const expected = h64Raw(probe, SEED);
  if (hashAt(buffers[0].subarray(0, probe.length)) !== expected || hashAt(buffers[1].subarray(0, probe.length)) !== expected) return copying;
  const inMemory = (block: Buffer): boolean => block.buffer === memory && block.byteOffset + block.length <= memory.byteLength;
  return {
    algorithm: 'xxh64',
    inPlace: true,
    buffers,
    same: (a, b) => (inMemory(a) && inMemory(b) ? hashAt(a) === hashAt(b) : h64Raw(a, SEED) === h64Raw(b, SEED)),
  };
}

/** SHA-1 through hasha (where WebAssembly cannot run). */
async function sha1(size: number): Promise<BlockHash> {
  const { hashSync } = await import('hasha');
  const options = { algorithm: 'sha1', encoding: 'buffer' } as const;
  return {
    algorithm: 'sha1',
    inPlace: false,
    buffers: [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)],
    same: (a, b) => Buffer.compare(hashSync(a, options), hashSync(b, options)) === 0,
  };
}

/** The block hash for blocks of `size` bytes: xxh64, or SHA-1 where WebAssembly is unavailable. */
export async function makeBlockHash(size: number): Promise<BlockHash> {
  try {
    return await xxh64(size);
  } catch {
    return sha1(size);
  }
}
