/**
 * Review 8: memory of the look-ahead plans (session 8). The pass keeps every plan the thread posts until it
 * reaches that folder, and a plan holds a step (two entries) per changed name: where many names change (a chmod
 * or touch of a whole tree, a replica copied without its times), the thread runs far ahead of a pass busy writing,
 * and without a cap its plans made peak memory follow the number of changes instead of the widest folder
 * (measured by the review: 120,000 metadata changes +57 MiB over 4a7b07d, 180,000 +86 MiB; 4a7b07d's thread costs
 * the same ~20 MiB at any size). Now at most PLAN_STEPS_WAITING steps wait (lookahead.ts).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { repoCli } from './_cli.js';
import { tempDir } from './_tree.js';

const FOLDERS = 600;
const FILES = 100;

/** Peak RSS (KiB) of one CLI pass, from /usr/bin/time. */
function peakKiB(src: string, dst: string, env: Record<string, string>): number {
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, repoCli, 'sync-once', src, dst], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'], // 120,000 op lines
    env: { ...process.env, NO_COLOR: '1', FOLDER_SYNC_STATE_DIR: tempDir('fs-lapm-state-'), ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1]);
}

describe('look-ahead plans and peak memory', () => {
  it(`${FOLDERS * FILES} files whose mode changed: the thread's plans do not add memory in proportion to the changes`, () => {
    // On a tmpfs: 40,000 files are made and changed in a second or two there (minutes on this VM's disk).
    const shm = mkdtempSync('/dev/shm/fs-lapm-');
    onTestFinished(() => rmSync(shm, { recursive: true, force: true }));
    const src = join(shm, 'src');
    mkdirSync(src);
    for (let d = 0; d < FOLDERS; d++) {
      const dir = join(src, `d${String(d).padStart(4, '0')}`);
      mkdirSync(dir);
      for (let f = 0; f < FILES; f++) writeFileSync(join(dir, `file-with-a-longish-name-${String(f).padStart(4, '0')}.txt`), 'x');
    }
    const a = join(shm, 'a');
    const b = join(shm, 'b');
    peakKiB(src, a, { FOLDER_SYNC_LOOKAHEAD: '0' });
    peakKiB(src, b, { FOLDER_SYNC_LOOKAHEAD: '0' });
    for (let d = 0; d < FOLDERS; d++) {
      const dir = join(src, `d${String(d).padStart(4, '0')}`);
      for (let f = 0; f < FILES; f++) chmodSync(join(dir, `file-with-a-longish-name-${String(f).padStart(4, '0')}.txt`), 0o600);
    }
    // The thread first (it looks at everything before the pass walks): every plan it makes is waiting at once.
    const withIt = peakKiB(src, a, { FOLDER_SYNC_TEST_LOOKAHEAD: 'first' });
    const without = peakKiB(src, b, { FOLDER_SYNC_LOOKAHEAD: '0' });
    // The thread's own heap and its findings: ~20-23 MiB here; the plans waiting are capped at PLAN_STEPS_WAITING
    // steps (~6 MiB). Without the cap this tree's 60,000 changes added ~45 MiB; 120,000 added ~82 MiB.
    expect((withIt - without) / 1024, `${withIt} vs ${without} KiB`).toBeLessThan(32);
  }, 300_000);
});
