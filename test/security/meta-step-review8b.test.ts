/**
 * Review 8b (side findings, not specific to the look-ahead thread): the 'meta' step (walk-apply.ts) sets the owner
 * and mode of whatever regular file is at the replica name when the step runs (setMeta by path, O_PATH only
 * against a link), not of the file the listing (or a verified plan) named. A user who can write their own replica
 * folder (docs/security.md's threat model: "their own folders inside the replica") puts their own program at that
 * name between the listing and the step, and root makes it root-owned and setuid.
 * Also: a meta step where only the mode changes (owner the same) drops setuid/setgid bits, so a root file made
 * setuid in the source is "updated (metadata: mode)" in every pass and never gets the bit.
 */
import { chmodSync, chownSync, lstatSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConsolaReporter } from 'consola';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogEvent } from '../../src/log.js';
import { syncOnce } from '../../src/sync/sync-once.js';
import { buildTree, giveToTestUser, isRoot, tempDir, testUser } from '../_tree.js';

/** A reporter that calls `hook` on every op line, synchronously (the moment the pass logs it). */
function onOp(hook: (event: Extract<LogEvent, { type: 'op' }>) => void): ConsolaReporter {
  return {
    log(obj) {
      const event = (obj as unknown as { event?: LogEvent }).event ?? (obj.args?.[0] as { event?: LogEvent } | undefined)?.event;
      if (event?.type === 'op') hook(event);
    },
  };
}

/**
 * A user's program mirrored (the replica's copy is the user's), then taken over by the admin in the source as a
 * setuid-root helper (same bytes, same time): the next pass has only its owner and mode to change.
 */
async function takenOver(): Promise<{ uid: number; gid: number; home: string; src: string; dst: string }> {
  const { uid, gid } = testUser();
  const home = tempDir('fs-r8b-home-', { forUser: true });
  const src = join(home, 'src');
  const dst = join(home, 'dst');
  buildTree(home, { src: { sub: { prog: '#!/bin/sh\necho helper\n' } } });
  chmodSync(join(src, 'sub/prog'), 0o755);
  giveToTestUser(src);
  expect((await syncOnce(src, dst, { logger: createLogger([]) })).exitCode).toBe(0);
  expect(lstatSync(join(dst, 'sub/prog')).uid).toBe(uid);
  chownSync(join(src, 'sub/prog'), 0, 0);
  chmodSync(join(src, 'sub/prog'), 0o4755);
  return { uid, gid, home, src, dst };
}

describe.runIf(isRoot)('review 8b: the meta step', () => {
  it("a user's own program put at the replica name before a meta step (owner root, setuid) is not made root-owned setuid", async () => {
    const { uid, gid, home, src, dst } = await takenOver();
    // A new file before it in the folder's plan, and the user's own program, on the replica's file system.
    writeFileSync(join(src, 'sub/a'), 'new');
    chownSync(join(src, 'sub/a'), uid, gid);
    const evil = join(home, 'evil');
    writeFileSync(evil, '#!/bin/sh\necho evil\n', { mode: 0o755 });
    chownSync(evil, uid, gid);
    // The user (owner of dst/sub) renames its program over dst/sub/prog after the pass listed the folder
    // (here: right when the step before is logged; in the wild: a rename in a loop).
    let swapped = false;
    const logger = createLogger([
      onOp((e) => {
        if (e.path === 'sub/a' && !swapped) {
          swapped = true;
          renameSync(evil, join(dst, 'sub/prog'));
        }
      }),
    ]);
    await syncOnce(src, dst, { logger });
    expect(swapped).toBe(true);
    const st = lstatSync(join(dst, 'sub/prog'));
    const rootSetuid = st.uid === 0 && (st.mode & 0o4000) !== 0;
    expect({ content: readFileSync(join(dst, 'sub/prog'), 'utf8'), rootSetuid }).not.toEqual({ content: '#!/bin/sh\necho evil\n', rootSetuid: true });
  });

  it('the replica file rewritten in place by its owner (same inode, size and time) before a meta step (owner root, setuid) is not made root-owned setuid', async () => {
    const { src, dst } = await takenOver();
    writeFileSync(join(src, 'sub/a'), 'new');
    const listed = lstatSync(join(dst, 'sub/prog'));
    let rewritten = false;
    const logger = createLogger([
      onOp((e) => {
        if (e.path === 'sub/a' && !rewritten) {
          rewritten = true;
          // What the file's owner (the user) can do: same inode, same size, its time put back.
          writeFileSync(join(dst, 'sub/prog'), '#!/bin/sh\necho hacker\n');
          utimesSync(join(dst, 'sub/prog'), listed.atime, listed.mtime);
        }
      }),
    ]);
    await syncOnce(src, dst, { logger });
    expect(rewritten).toBe(true);
    const st = lstatSync(join(dst, 'sub/prog'));
    const rootSetuid = st.uid === 0 && (st.mode & 0o4000) !== 0;
    expect({ content: readFileSync(join(dst, 'sub/prog'), 'utf8'), rootSetuid }).not.toEqual({
      content: '#!/bin/sh\necho hacker\n',
      rootSetuid: true,
    });
  });

  it('a root file made setuid in the source (owner unchanged) gets the bit in the replica, and the next pass is quiet', async () => {
    const root = tempDir('fs-r8b-mode-');
    const src = join(root, 'src');
    const dst = join(root, 'dst');
    buildTree(root, { src: { sub: { prog: 'x' } } });
    chmodSync(join(src, 'sub/prog'), 0o755);
    expect((await syncOnce(src, dst, { logger: createLogger([]) })).exitCode).toBe(0);
    chmodSync(join(src, 'sub/prog'), 0o4755);
    const first = await syncOnce(src, dst, { logger: createLogger([]) });
    expect(first.updated).toBe(1);
    expect(lstatSync(join(dst, 'sub/prog')).mode & 0o7777).toBe(0o4755);
    const again = await syncOnce(src, dst, { logger: createLogger([]) });
    expect(again.updated).toBe(0);
  });
});
