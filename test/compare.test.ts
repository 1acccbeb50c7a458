import { symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { PARALLEL_FROM, sameContents } from '../src/sync/compare.js';
import { syncOnce } from '../src/sync/sync-once.js';
import { buildTree, bytes, compareTrees, file, inodeMap, tempDir } from './_tree.js';

const MiB = 1 << 20;
const flip = (buf: Buffer, at: number): Buffer => {
  const copy = Buffer.from(buf);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
};

describe('sameContents (--checksum compares 1 MiB blocks by hash)', () => {
  const big = bytes(3 * MiB + 17, 5);
  const huge = bytes(PARALLEL_FROM + 3 * MiB + 5, 7);
  const cases: { name: string; src: Buffer; dst: Buffer | 'missing' | 'symlink'; size?: number; want: boolean }[] = [
    { name: 'empty files', src: Buffer.alloc(0), dst: Buffer.alloc(0), want: true },
    { name: 'equal small files', src: bytes(5000, 1), dst: bytes(5000, 1), want: true },
    { name: 'small files differing in the last byte', src: bytes(5000, 1), dst: flip(bytes(5000, 1), 4999), want: false },
    { name: 'equal multi-chunk files', src: big, dst: Buffer.from(big), want: true },
    { name: 'multi-chunk files differing in the first byte', src: big, dst: flip(big, 0), want: false },
    { name: 'multi-chunk files differing in the second chunk', src: big, dst: flip(big, MiB + 3), want: false },
    { name: 'multi-chunk files differing in the last byte', src: big, dst: flip(big, big.length - 1), want: false },
    { name: 'exactly one chunk, equal', src: bytes(MiB, 2), dst: bytes(MiB, 2), want: true },
    { name: 'replica copy is longer', src: bytes(100, 3), dst: Buffer.concat([bytes(100, 3), Buffer.from('x')]), size: 100, want: false },
    { name: 'source grew since it was listed', src: bytes(101, 3), dst: bytes(101, 3), size: 100, want: false },
    // From PARALLEL_FROM on, the source's blocks are hashed on hasha's worker thread.
    { name: 'large (two-core) files, equal', src: huge, dst: Buffer.from(huge), want: true },
    { name: 'large (two-core) files differing in a middle block', src: huge, dst: flip(huge, 5 * MiB + 1), want: false },
    { name: 'large (two-core) files differing in the last byte', src: huge, dst: flip(huge, huge.length - 1), want: false },
    {
      name: 'large (two-core) source grew since it was listed',
      src: huge,
      dst: huge.subarray(0, huge.length - 1),
      size: huge.length - 1,
      want: false,
    },
    { name: 'replica copy is missing', src: bytes(10, 3), dst: 'missing', want: false },
    { name: 'replica copy became a symlink to an equal file (never followed)', src: bytes(10, 3), dst: 'symlink', want: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const root = tempDir();
      writeFileSync(join(root, 'a'), c.src);
      if (c.dst === 'symlink') symlinkSync(join(root, 'a'), join(root, 'b'));
      else if (c.dst !== 'missing') writeFileSync(join(root, 'b'), c.dst);
      expect(await sameContents(join(root, 'a'), join(root, 'b'), c.size ?? c.src.length)).toBe(c.want);
    });
  }

  it('a source that cannot be opened is an error (a failed entry), not "different"', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'b'), 'x');
    await expect(sameContents(join(root, 'a'), join(root, 'b'), 1)).rejects.toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('--checksum pass', () => {
  it('re-copies a same-size same-mtime edit, fixes metadata-only differences without a copy, leaves equal files alone', async () => {
    const T = Date.UTC(2024, 0, 2);
    const spec = {
      'edited.bin': file(bytes(200_000, 1), { mtime: T }),
      'equal.bin': file(bytes(300, 2), { mtime: T }),
      'touched.bin': file(bytes(300, 3), { mtime: T }),
    };
    const src = buildTree(tempDir(), spec);
    const dst = buildTree(tempDir(), spec);
    // Same size and mtime, one byte different: only --checksum can see it.
    writeFileSync(join(dst, 'edited.bin'), flip(bytes(200_000, 1), 123_456));
    utimesSync(join(dst, 'edited.bin'), T / 1000, T / 1000);
    utimesSync(dst, T / 1000, T / 1000);

    const quick = await syncOnce(src, dst, { logger: createLogger([]) });
    expect(quick.exitCode).toBe(0);
    expect(compareTrees(src, dst)).toEqual(['"edited.bin": contents differ (200000 vs 200000 bytes)']);

    utimesSync(join(dst, 'touched.bin'), T / 1000 + 60, T / 1000 + 60);
    const before = inodeMap(dst);

    const cwd = process.cwd();
    const result = await syncOnce(src, dst, { checksum: true, logger: createLogger([]) });
    expect(process.cwd()).toBe(cwd); // listings move into each folder and always come back
    expect(result.exitCode).toBe(0);
    expect(result.updated).toBe(2);
    expect(compareTrees(src, dst)).toEqual([]);
    const after = inodeMap(dst);
    expect(after.get('edited.bin')).not.toBe(before.get('edited.bin'));
    expect(after.get('equal.bin')).toBe(before.get('equal.bin'));
    expect(after.get('touched.bin')).toBe(before.get('touched.bin'));
  });
});
