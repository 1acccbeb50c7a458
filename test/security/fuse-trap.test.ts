/**
 * A source file that something is mounted on (review 15's finding; src/sync/source-ahead.ts `mountsBelow`). A
 * FUSE file system can be mounted over a regular file, and its daemon decides when an open is answered. The
 * read-ahead's reader threads open new subtrees' files before the pass does; an open the daemon never answers
 * held a reader for as long as it pleased, and the process could not exit after the pass had finished (a thread
 * in a system call cannot be stopped). Now mount points below the subtree are never opened by the readers.
 *
 * test/security/trapfs.py answers the opens of a process's main thread and holds those of any other thread (the
 * copy helper is off here, so only the readers are other threads) until it gets SIGUSR1, which the test sends
 * once the pass has printed its closing line: whatever the readers tried is in its log by then.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../_cli.js';
import { buildTree, isRoot, tempDir, type Spec } from '../_tree.js';

/** Wait (polling the log it writes) until the trap daemon has mounted itself. */
async function ready(log: string): Promise<void> {
  while (!(existsSync(log) && readFileSync(log, 'utf8').includes('ready'))) await new Promise((r) => setTimeout(r, 20));
}

describe('a source file with a FUSE file system mounted on it (review 15)', () => {
  it.runIf(isRoot)('is never opened by the read-ahead: no reader waits on its daemon; the pass copies it itself and ends', async () => {
    const files: Spec = {};
    for (let i = 0; i < 300; i++) files[`f${String(i).padStart(3, '0')}`] = `file ${i}\n`;
    const src = buildTree(tempDir('fs-trap-src-'), { d0: { ...files, 'zz-trap': '' } });
    const trapAt = join(src, 'd0', 'zz-trap');
    const log = join(tempDir('fs-trap-log-'), 'trap.log');
    writeFileSync(log, '');
    const trap = spawn('python3', [join(import.meta.dirname, 'trapfs.py'), trapAt, log], { stdio: 'ignore' });
    try {
      await ready(log);
      const dst = join(tempDir('fs-trap-dst-'), 'rep');
      let seen = '';
      const r = await runCli(['sync-once', src, dst, '--verbose'], {
        env: {
          FOLDER_SYNC_SOURCE_AHEAD: '1', // whatever the file system of this machine's temporary folder
          FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first', // the subtree is read ahead whole before the pass copies it
          FOLDER_SYNC_COPY_THREAD: '0', // only the readers are threads other than the main one
        },
        onSpawn: (child) => {
          let out = '';
          child.stdout?.on('data', (d: Buffer) => {
            out += d.toString();
            if (seen === '' && out.includes('pass finished')) {
              seen = readFileSync(log, 'utf8');
              trap.kill('SIGUSR1'); // a held open is answered now, so a failing run still ends
            }
          });
        },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/300 source files of new folders read ahead/);
      expect(seen).not.toMatch(/ held$/m);
      expect(seen.match(/^open .* main answered$/gm)).toHaveLength(1); // the pass's own copy
      expect(readFileSync(join(dst, 'd0', 'zz-trap'), 'utf8')).toBe('trap file contents\n');
    } finally {
      spawnSync('umount', ['-l', trapAt]);
      trap.kill('SIGKILL');
    }
  });
});
