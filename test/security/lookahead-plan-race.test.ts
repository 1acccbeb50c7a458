/**
 * Review 8 (session 8's plan handoff, lookahead.ts): the look-ahead thread lists folders by whole path, and its
 * identity checks (lstat of the folder before and after the listing) do not cover the per-entry lstats in
 * between. A user who owns a source folder can exchange it with a link to any folder in a loop; a listing whose
 * checks see the real folder and whose entry lstats see the other one gives the thread a plan carrying *another
 * file's* owner and mode under the name of the user's own file. The pass applies a plan's steps with the plan's
 * source entries: the "meta" step sets that owner and mode on the replica's copy of the user's file (a "copy" step
 * would set them on a fresh copy of it: copyWith checks only size, mtime and ctime, not inode, owner or mode).
 * Result: a root-owned setuid copy of a program the user wrote, in the replica. Before the handoff the thread's
 * findings could only make the pass skip a subtree, so nothing it read reached the replica (this file passes on
 * 4a7b07d, the commit before, where the pass itself runs under the same swaps).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync, type CliResult } from '../_cli.js';
import { giveToTestUser, isRoot, tempDir } from '../_tree.js';
import { startSwapper } from './_race.js';

const M = Date.UTC(2023, 4, 5, 6, 7, 8) / 1000;
const SIZE = 4096;
const OFF = { FOLDER_SYNC_LOOKAHEAD: '0' };

function fill(dir: string, padding: number, tool: Buffer, toolMode: number): void {
  mkdirSync(dir, { recursive: true });
  // Names before and after "tool": its lstat falls in the middle of the listing, between the folder's checks.
  for (let i = 0; i < padding; i++) {
    const p = join(dir, `${i % 2 === 0 ? 'a' : 'z'}${String(i).padStart(4, '0')}`);
    writeFileSync(p, 'pad');
    utimesSync(p, M, M);
  }
  const t = join(dir, 'tool');
  writeFileSync(t, tool);
  chmodSync(t, toolMode);
  utimesSync(t, M, M);
}

interface Setup {
  src: string;
  rep: string;
  pairs: [string, string][];
  /** Replica copies of "tool" that are root-owned or setuid (the source's are the user's, 0755). */
  escalated(r: CliResult, pass: number): string[];
}

/**
 * Somewhere on the system a root-owned setuid file (like /usr/bin/passwd: anyone can read its size and time); in
 * the user's source, folders eve/dNN/sub holding a program "tool" of the same size and time (their own bytes,
 * 0755) and the same other names; links to the root's folder; a replica mirrored by a pass without the thread.
 */
async function setup(folders: number, padding: number, front = 0): Promise<Setup> {
  const foreign = tempDir('fs-lapr-foreign-');
  fill(foreign, padding, Buffer.alloc(SIZE, 0x7f), 0o4755);
  chmodSync(foreign, 0o755);
  const home = tempDir('fs-lapr-home-', { forUser: true });
  const src = join(home, 'src');
  const payload = Buffer.alloc(SIZE, 0x20);
  payload.write('#!/bin/sh\necho "the user\'s own program"\n');
  const pairs: [string, string][] = [];
  for (let i = 0; i < folders; i++) {
    const sub = join(src, 'eve', `d${String(i).padStart(2, '0')}`, 'sub');
    fill(sub, padding, payload, 0o755);
    symlinkSync(foreign, join(home, `evil${i}`));
    pairs.push([sub, join(home, `evil${i}`)]);
  }
  // Entries the pass meets first (the thread starts once the pass has looked at 2,000).
  if (front > 0) {
    mkdirSync(join(src, 'aaa'));
    for (let i = 0; i < front; i++) writeFileSync(join(src, 'aaa', `f${i}`), 'x');
  }
  giveToTestUser(home);
  const rep = join(tempDir('fs-lapr-rep-'), 'rep');
  expect((await runSync(src, rep, [], { env: OFF })).code).toBe(0);
  const user = lstatSync(join(pairs[0]![0], 'tool'));
  const escalated = (r: CliResult, pass: number): string[] => {
    const found: string[] = [];
    for (const [sub] of pairs) {
      const rel = join(sub.slice(src.length + 1), 'tool');
      try {
        // Only a real file in a real replica folder (a pass that saw the source folder as a link mirrors a link).
        if (!lstatSync(join(rep, rel, '..')).isDirectory()) continue;
        const st = lstatSync(join(rep, rel));
        if (!st.isFile() || (st.uid === user.uid && (st.mode & 0o6000) === 0)) continue;
        const line = r.stdout.split('\n').find((l) => l.includes(rel)) ?? 'no line';
        found.push(`pass ${pass}: ${rel} uid ${st.uid} mode ${(st.mode & 0o7777).toString(8)} (${line})`);
      } catch {
        // not there (removed by a pass that saw a link): nothing to judge
      }
    }
    return found;
  };
  return { src, rep, pairs, escalated };
}

describe.runIf(isRoot)('look-ahead plans under swaps (root passes, the test user swapping its own source folders)', () => {
  it('thread first (test gate), swaps only while it walks: no replica file gets an owner or setuid bit its source file lacks', async () => {
    const PASSES = 25;
    const { src, rep, pairs, escalated } = await setup(20, 200);
    const found: string[] = [];
    for (let pass = 0; pass < PASSES && found.length === 0; pass++) {
      const swapper = await startSwapper(pairs, tempDir('fs-lapr-ctl-', { forUser: true }));
      const gate = join(tempDir('fs-lapr-gate-'), 'gate');
      let over = false;
      const run = runSync(src, rep, [], {
        env: { FOLDER_SYNC_TEST_LOOKAHEAD: 'first', FOLDER_SYNC_TEST_LOOKAHEAD_GATE: gate },
        timeoutMs: 120_000,
      }).finally(() => (over = true));
      while (!existsSync(`${gate}.ready`) && !over) await new Promise((r) => setTimeout(r, 2));
      // The thread has looked at everything: the swaps stop, each folder is put back, and the pass walks still trees.
      await swapper.stop();
      for (const [a, b] of pairs) {
        if (lstatSync(a).isSymbolicLink()) {
          renameSync(a, `${a}.x`);
          renameSync(b, a);
          renameSync(`${a}.x`, b);
        }
      }
      writeFileSync(`${gate}.go`, '');
      const r = await run;
      expect(r.stderr, `pass ${pass}`).not.toMatch(/\n\s+at /);
      found.push(...escalated(r, pass));
      // Back to an exact mirror for the next round (a pass without the thread).
      expect((await runSync(src, rep, [], { env: OFF })).code).toBe(0);
    }
    // The user's own bytes, owned by root with the setuid bit: a root shell for whoever can run it.
    expect(found).toEqual([]);
  }, 600_000);

  it('no test hooks (the thread starts on its own beside the pass), swaps throughout: the same', async () => {
    const PASSES = 30; // probabilistic: seen failing (before the fix) at passes 8 and 34, once not within 40
    const { src, rep, pairs, escalated } = await setup(4, 1000, 2500);
    const found: string[] = [];
    const swapper = await startSwapper(pairs, tempDir('fs-lapr-ctl-', { forUser: true }));
    try {
      for (let pass = 0; pass < PASSES && found.length === 0; pass++) {
        const r = await runSync(src, rep, [], { timeoutMs: 120_000 });
        expect(r.stderr, `pass ${pass}`).not.toMatch(/\n\s+at /);
        await swapper.pause();
        found.push(...escalated(r, pass));
        swapper.resume();
      }
    } finally {
      await swapper.stop();
    }
    expect(found).toEqual([]);
  }, 600_000);
});
