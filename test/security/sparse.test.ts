/**
 * Issue 11 point 7: a sparse source file stays sparse in the replica (anyone who can write the source must not
 * be able to fill the backup disk with holes), byte for byte the same.
 */
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync } from '../_cli.js';
import { bytes, tempDir } from '../_tree.js';

const MiB = 1 << 20;

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('sparse files', () => {
  it('a 256 MiB file using a few KiB is copied in about as many blocks, bytes identical; a second pass changes nothing', async () => {
    const src = tempDir('fs-sparse-src-');
    const path = join(src, 'disk.img');
    const fd = openSync(path, 'w');
    writeSync(fd, bytes(3000, 7), 0, 3000, 1000); // data inside the first block
    writeSync(fd, bytes(4096, 9), 0, 4096, 200 * MiB); // and one block in the middle
    ftruncateSync(fd, 256 * MiB); // a hole at the end too
    closeSync(fd);
    const used = statSync(path).blocks * 512;
    expect(used).toBeLessThanOrEqual(64 * 1024); // the source really is sparse on this file system
    const dst = join(tempDir('fs-sparse-dst-'), 'replica');
    const r = await runSync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    const copy = statSync(join(dst, 'disk.img'));
    expect(copy.size).toBe(256 * MiB);
    expect(copy.blocks * 512).toBeLessThanOrEqual(used + 64 * 1024);
    expect(sha(join(dst, 'disk.img'))).toBe(sha(path));
    const again = await runSync(src, dst);
    expect(again.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
  });

  it('a dense file that holds zeros is copied exactly (its zeros are data)', async () => {
    const src = tempDir('fs-sparse-src-');
    const data = Buffer.concat([Buffer.alloc(3 * MiB), bytes(5000, 3), Buffer.alloc(MiB)]);
    const fd = openSync(join(src, 'zeros.bin'), 'w');
    writeSync(fd, data);
    closeSync(fd);
    const dst = join(tempDir('fs-sparse-dst-'), 'replica');
    const r = await runSync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dst, 'zeros.bin')).equals(data)).toBe(true);
  });
});
