/**
 * Concurrency: two passes on one replica (the second exits 75 at once, the replica ends exact), passes on two
 * replicas in parallel, and a pass while the user keeps editing the source (never a mixed file; the next
 * quiet pass is exact).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../_cli.js';
import { buildTree, compareTrees, snapshotTree, tempDir, type Spec } from '../_tree.js';
import { heldLog, LINES_TO_HOLD } from '../_held-log.js';
import { lockFiles, Prng, tempsIn, waitFor } from './_faults.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A source with a large file and enough small ones to hold a pass on its log (see _held-log.ts). */
function busySource(): string {
  const spec: Spec = { big: new Prng(11).fill(Buffer.alloc(40 << 20)) };
  for (let i = 0; i < LINES_TO_HOLD; i++) spec[`f${i}`] = `file ${i}`;
  return buildTree(tempDir('fs-conc-src-'), spec);
}

describe('concurrent passes', () => {
  it('two passes on one replica: the second exits 75 at once with one line, the first completes, the replica is exact', async () => {
    const src = busySource();
    const dst = tempDir('fs-conc-dst-');
    const state = tempDir('fs-conc-state-');
    const env = { FOLDER_SYNC_STATE_DIR: state };
    const log = join(tempDir('fs-conc-log-'), 'second.log');
    // The first pass logs more than an unread FIFO takes (_held-log.ts): it cannot end, nor release its lock,
    // until the test drains its log after the second pass, so the overlap does not depend on timing. A second
    // pass that waited for the lock instead of giving up could never end (it would be killed at the CLI's
    // timeout, with no exit code): its exit 75 proves it gave up at once.
    const held = heldLog();
    const first = runCli(['sync-once', src, dst, '--log', held.path], { env });
    expect(await waitFor(() => lockFiles(state).length > 0, 20_000)).toBe(true);
    const second = await runCli(['sync-once', src, dst, '--log', log], { env });
    const firstLog = held.drain();
    const one = await first;
    expect(await firstLog).toMatch(/INFO pass finished: /);
    expect(second.code, second.stderr).toBe(75);
    expect(second.stderr).toMatch(/^folder-sync: another pass is running on .* \(pid \d+, since /);
    expect(second.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(second.stdout).toBe('');
    expect(readFileSync(log, 'utf8')).toMatch(/ERROR pass skipped: another pass is running/);
    expect(one.code, one.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(tempsIn(dst)).toEqual([]);
    expect(lockFiles(state)).toEqual([]);
  });

  it('passes on two replicas run in parallel, both complete', async () => {
    const src = busySource();
    const a = tempDir('fs-conc-a-');
    const b = tempDir('fs-conc-b-');
    const [ra, rb] = await Promise.all([runCli(['sync-once', src, a]), runCli(['sync-once', src, b])]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(compareTrees(src, a)).toEqual([]);
    expect(compareTrees(src, b)).toEqual([]);
  });

  it('a pass while the user keeps editing the source: no crash, never a mixed file; the next quiet pass is exact', async () => {
    const src = tempDir('fs-conc-src-');
    const dst = tempDir('fs-conc-dst-');
    const spec: Spec = {};
    // Each file is one token repeated ("v0:" ...); a copy mixing two versions would hold two different tokens.
    for (let i = 0; i < 400; i++) spec[`d${i % 10}/f${i}`] = 'v0:'.repeat(2000 + i);
    const tree: Spec = {};
    for (const [path, content] of Object.entries(spec)) {
      const [d, f] = path.split('/') as [string, string];
      tree[d] = { ...((tree[d] as Spec | undefined) ?? {}), [f]: content };
    }
    buildTree(src, tree);
    const editor = `
      const fs = require('node:fs'), path = require('node:path');
      const root = process.argv[1];
      let n = 0, x = 7;
      const rnd = (k) => { x = (x * 1103515245 + 12345) >>> 0; return x % k; };
      const tick = () => {
        for (let j = 0; j < 20; j++) {
          n++;
          const i = rnd(400), file = path.join(root, 'd' + (i % 10), 'f' + i);
          const op = rnd(10);
          try {
            if (op < 6) fs.writeFileSync(file, ('v' + n + ':').repeat(1000 + rnd(3000)));
            else if (op < 7) fs.rmSync(file, { force: true });
            else if (op < 8) fs.renameSync(file, path.join(root, 'd' + rnd(10), 'f' + rnd(400)));
            else if (op < 9) fs.mkdirSync(path.join(root, 'd' + rnd(10), 'new' + n), { recursive: true });
            else fs.rmSync(path.join(root, 'd' + rnd(10), 'new' + (n - rnd(50))), { recursive: true, force: true });
          } catch {}
        }
        setTimeout(tick, 1);
      };
      process.stdout.write('editing\\n');
      tick();
    `;
    const child = spawn(process.execPath, ['-e', editor, src], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let editing = false;
    child.stdout?.on('data', () => (editing = true));
    expect(await waitFor(() => editing, 10_000, 5)).toBe(true);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await runCli(['sync-once', src, dst]));
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    for (const r of results) {
      expect([0, 1], r.stderr).toContain(r.code);
      expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
      // Only changes-during-copy may fail; nothing else.
      for (const line of r.stderr.split('\n').filter((l) => l.startsWith('error: failed'))) {
        expect(line).toMatch(/the file changed while it was copied/);
      }
    }
    for (const [path, snap] of snapshotTree(dst)) {
      if (snap.type !== 'file') continue;
      const text = readFileSync(join(dst, path), 'utf8');
      const token = text.slice(0, text.indexOf(':') + 1);
      expect(text === token.repeat(text.length / token.length), `${path} holds one version`).toBe(true);
    }
    const quiet = await runCli(['sync-once', src, dst]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(tempsIn(dst)).toEqual([]);
  });
});
