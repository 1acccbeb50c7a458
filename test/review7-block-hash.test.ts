// Review 7: failing tests for src/sync/block-hash.ts (the in-place xxh64 path). Each names the hazard it shows.
import { describe, expect, it } from 'vitest';
import { makeBlockHash } from '../src/sync/block-hash.js';

const MiB = 1 << 20;

describe('review 7: block-hash.ts in place', () => {
  it('two block hashes made at once get two memories (the instantiate wrapper is not shared between calls)', async () => {
    const native = (globalThis as unknown as { WebAssembly: { instantiate: unknown } }).WebAssembly.instantiate;
    const [x, y] = await Promise.all([makeBlockHash(MiB), makeBlockHash(MiB)]);
    expect(x.inPlace && y.inPlace).toBe(true);
    // Today both take the instance that resolved first: reading a block into y's buffers overwrites x's.
    expect(x.buffers[0].buffer, 'x and y read their blocks into the same WebAssembly memory').not.toBe(y.buffers[0].buffer);
    expect((globalThis as unknown as { WebAssembly: { instantiate: unknown } }).WebAssembly.instantiate).toBe(native);
  });

  it('a block outside the memory (the copying fallback of `same`) does not overwrite the read buffers', async () => {
    const hash = await makeBlockHash(MiB);
    const [a, b] = hash.buffers;
    a.fill(1);
    b.fill(2);
    expect(hash.same(Buffer.alloc(16, 3), b.subarray(0, 16))).toBe(false);
    // h64Raw copies every block it hashes to offset 0 of the memory, which is where buffers[0] lies.
    expect(a[0], 'buffers[0] was overwritten by the fallback h64Raw').toBe(1);
  });

  it('a block outside the memory larger than the memory does not detach the read buffers', async () => {
    const hash = await makeBlockHash(MiB);
    expect(hash.same(Buffer.alloc(3 * MiB), Buffer.alloc(3 * MiB))).toBe(true);
    // h64Raw grows the memory for it; the buffers were views of the old ArrayBuffer, now detached (length 0).
    expect(hash.buffers[0].length, 'buffers[0] detached by memory.grow').toBe(MiB);
    expect(hash.buffers[1].length, 'buffers[1] detached by memory.grow').toBe(MiB);
  });
});
