/**
 * Review 8: what the pass takes on trust from a look-ahead plan (session 8, lookahead.ts). The thread lists by
 * whole path, so a folder exchanged with a link while it is listed gives it entries of another folder (see
 * test/security/lookahead-plan-race.test.ts, which makes that happen for real). Here the same plan is handed to the
 * walk directly, deterministically: the plan names the user's own file "tool" (its inode, size and time) with
 * another file's owner and mode (root, setuid), as a listing redirected between the name's lstat and the folder's
 * checks gives. Without the thread, the pass lists the folder through its handle and sees the file as it is.
 */
import { chmodSync, lstatSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { OpenFolder } from '../src/sync/access.js';
import { runsAsRoot } from '../src/sync/apply.js';
import { ReplicaCapsBook, replicaCapabilities } from '../src/sync/capabilities-probe.js';
import { entryFromStats, listIn, type Entry } from '../src/sync/entry.js';
import type { FolderPlan } from '../src/sync/lookahead.js';
import { PassReport } from '../src/sync/pass-report.js';
import type { PlannedStep } from '../src/sync/plan.js';
import { syncOnce } from '../src/sync/sync-once.js';
import { unpinWorkingFolder } from '../src/sync/working-folder.js';
import { MirrorWalk } from '../src/sync/walk.js';
import { buildTree, giveToTestUser, isRoot, tempDir } from './_tree.js';

const M = Date.UTC(2023, 4, 5, 6, 7, 8) / 1000;

/** One pass over src -> dst whose look-ahead hands `plan` for the folder "sub" (made in the same folders). */
async function passWithPlan(src: string, dst: string, plan: (srcSub: Entry[], dstSub: Entry[]) => PlannedStep[]): Promise<void> {
  const { caps } = replicaCapabilities(dst, { dryRun: false });
  const report = new PassReport(createLogger([]), { dryRun: false });
  const book = new ReplicaCapsBook(caps, dst, false, () => undefined);
  const walk = new MirrorWalk(report, { checksum: false, dryRun: false, book, srcLocalTime: false, root: runsAsRoot() });
  const steps = plan(listIn(join(src, 'sub')).entries, listIn(join(dst, 'sub')).entries);
  const ids = { src: lstatSync(join(src, 'sub'), { bigint: true }).ino, dst: lstatSync(join(dst, 'sub'), { bigint: true }).ino };
  walk.lookahead = {
    clean: () => undefined,
    planned: (rel, at): FolderPlan | undefined =>
      rel === 'sub' && at.src === ids.src && at.dst === ids.dst ? { steps, checked: steps.length } : undefined,
    entering: () => undefined,
    busy: () => false,
  };
  const source = OpenFolder.openRoot(src);
  const replica = OpenFolder.openRoot(dst);
  try {
    await walk.mirrorDir('', source, replica, source.list(), entryFromStats('', replica.stat()), false, undefined, caps, dst, src);
  } finally {
    unpinWorkingFolder();
    source.close();
    replica.close();
  }
}

describe.runIf(isRoot)('a plan from the look-ahead thread, applied by the pass', () => {
  for (const variant of ['meta', 'copy'] as const) {
    it(`a plan's source entry (owner, mode) is checked against the file the pass opens (${variant} step): no root-owned setuid copy of a user's file`, async () => {
      const root = tempDir('fs-lapt-');
      const src = join(root, 'src');
      buildTree(root, { src: { sub: { tool: '#!/bin/sh\necho mine\n', other: 'x' } } });
      chmodSync(join(src, 'sub/tool'), 0o755);
      utimesSync(join(src, 'sub/tool'), M, M);
      giveToTestUser(src);
      const dst = join(root, 'dst');
      expect((await syncOnce(src, dst, { logger: createLogger([]) })).exitCode).toBe(0);
      const user = lstatSync(join(src, 'sub/tool'));
      // The replica's copy is current ("meta": owner and mode set in place), or it is not ("copy": a new copy).
      if (variant === 'copy') writeFileSync(join(dst, 'sub/tool'), 'stale, another size');
      // The plan a redirected listing gives: "tool" as the user's file (inode, size, time) owned by root, 04755.
      await passWithPlan(src, dst, (s, d) => {
        const real = s.find((e) => e.name === 'tool')!;
        const forged: Entry = { ...real, uid: 0, gid: 0, mode: 0o4755 };
        const there = d.find((e) => e.name === 'tool')!;
        return [{ op: variant, src: forged, dst: there }];
      });
      const st = lstatSync(join(dst, 'sub/tool'));
      expect({ uid: st.uid, setuid: (st.mode & 0o4000) !== 0 }).toEqual({ uid: user.uid, setuid: false });
    });
  }
});
