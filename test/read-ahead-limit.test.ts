// src/sync/read-ahead.ts under a descriptor limit (found by the session-7 review). The pass copies synchronously and turns the event
// loop only every 100 ms or so, so no read-ahead callback runs and no read-ahead descriptor is closed until then:
// before MAX_OPEN, one extra open descriptor per large file copied meanwhile. Under a descriptor limit the
// pass itself then failed with EMFILE where it succeeds without read-ahead. No timing involved: nothing can close
// them while the pass is busy.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_DISKS, statfsType } from '../src/sync/fs-type.js';
import { MIN_SIZE } from '../src/sync/read-ahead.js';
import { repoCli } from './_cli.js';
import { tempDir } from './_tree.js';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function pass(src: string, readAhead: '0' | '1'): { code: number | null; out: string } {
  const dst = join(tempDir(), 'replica');
  // Hard and soft limit 64: Node raises only the soft limit to the hard one.
  const r = spawnSync('prlimit', ['--nofile=64:64', '--', process.execPath, repoCli, 'sync-once', src, dst], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FOLDER_SYNC_STATE_DIR: tempDir('fs-state-'), FOLDER_SYNC_READ_AHEAD: readAhead },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('read-ahead descriptors (found by the session-7 review)', () => {
  it('a pass of many large files does not run out of descriptors (it does not with FOLDER_SYNC_READ_AHEAD=0)', () => {
    const src = mkdtempSync('/var/tmp/fs-review7-');
    made.push(src);
    expect(LOCAL_DISKS.has(statfsType(src) ?? ''), 'needs /var/tmp on a local disk').toBe(true);
    // 60 sparse files of MIN_SIZE (cheap: holes, copied sparse), then a nested folder the pass opens afterwards.
    mkdirSync(join(src, 'a'));
    for (let i = 0; i < 60; i++) {
      writeFileSync(join(src, 'a', `f${i}`), '');
      truncateSync(join(src, 'a', `f${i}`), MIN_SIZE);
    }
    mkdirSync(join(src, 'b', 'c'), { recursive: true });
    writeFileSync(join(src, 'b', 'c', 'small'), 'x');
    const without = pass(src, '0');
    expect(without.code, without.out).toBe(0);
    const withIt = pass(src, '1');
    expect(withIt.out).not.toMatch(/EMFILE/);
    expect(withIt.code, withIt.out).toBe(0);
  });
});
