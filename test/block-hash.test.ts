// src/sync/block-hash.ts in place: the hazards a review (session 7) found, each shown failing before its fix.
import { describe, expect, it } from 'vitest';
import { makeBlockHash } from '../src/sync/block-hash.js';

const MiB = 1 << 20;

describe('block-hash.ts in place (found by the session-7 review)', () => {
  it('two block hashes made at once get two memories (the instantiate wrapper is not shared between calls)', async () => {
    const native = (globalThis as unknown as { WebAssembly: { instantiate: unknown } }).WebAssembly.instantiate;
    const [x, y] = await Promise.all([makeBlockHash(MiB), makeBlockHash(MiB)]);
    expect(x.inPlace && y.inPlace).toBe(true);
    // Before: both took the instance that resolved first, so reading a block into y's buffers overwrote x's.
    expect(x.buffers[0].buffer, 'x and y read their blocks into the same WebAssembly memory').not.toBe(y.buffers[0].buffer);
    expect((globalThis as unknown as { WebAssembly: { instantiate: unknown } }).WebAssembly.instantiate).toBe(native);
  });

  it('a block outside the memory (the copying fallback of `same`) does not overwrite the read buffers', async () => {
    const hash = await makeBlockHash(MiB);
    const [a, b] = hash.buffers;
    a.fill(1);
    b.fill(2);
    expect(hash.same(Buffer.alloc(16, 3), b.subarray(0, 16))).toBe(false);
    // Before: the fallback was h64Raw, which copies every block it hashes to offset 0, where buffers[0] lies.
    expect(a[0], 'buffers[0] was overwritten by the fallback h64Raw').toBe(1);
  });

  it('a block outside the memory larger than the memory does not detach the read buffers', async () => {
    const hash = await makeBlockHash(MiB);
    expect(hash.same(Buffer.alloc(3 * MiB), Buffer.alloc(3 * MiB))).toBe(true);
    // Before: h64Raw grew the memory for it, and the buffers, views of the old ArrayBuffer, were detached.
    expect(hash.buffers[0].length, 'buffers[0] detached by memory.grow').toBe(MiB);
    expect(hash.buffers[1].length, 'buffers[1] detached by memory.grow').toBe(MiB);
  });
});
