/**
 * Issue 11 point 4: the --log file is refused (exit 2, one line, nothing changed) when it is or would be created
 * inside the source or the replica (links followed, dangling ones too; bind mounts seen through), when it is a
 * hard link that could be one of their files, or when it is not a regular file (a FIFO must not hang the pass).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../_cli.js';
import { buildTree, compareTrees, snapshotTree, tempDir } from '../_tree.js';
import { bindMount } from './_mounts.js';

interface Box {
  base: string;
  src: string;
  rep: string;
}

function box(): Box {
  const base = tempDir('fs-logguard-');
  mkdirSync(join(base, 'src'));
  mkdirSync(join(base, 'rep'));
  const src = buildTree(join(base, 'src'), { 'notes.txt': "the user's notes", d: { f: 'f' } });
  const rep = buildTree(join(base, 'rep'), { old: 'old' });
  return { base, src, rep };
}

const cases: { name: string; log: (b: Box) => string; want: RegExp }[] = [
  {
    name: 'a dangling link whose target would be created inside the source',
    log: (b) => {
      symlinkSync(join(b.src, 'd', 'planted.log'), join(b.base, 'pass.log'));
      return join(b.base, 'pass.log');
    },
    want: /^folder-sync: log file .*pass\.log is inside the source /,
  },
  {
    name: 'a dangling link to a dangling link into the replica',
    log: (b) => {
      symlinkSync(join(b.base, 'hop2'), join(b.base, 'hop1'));
      symlinkSync(join(b.rep, 'new-folder', 'x.log'), join(b.base, 'hop2'));
      return join(b.base, 'hop1');
    },
    want: /is inside the replica/,
  },
  {
    name: 'a hard link to a source file',
    log: (b) => {
      linkSync(join(b.src, 'notes.txt'), join(b.base, 'pass.log'));
      return join(b.base, 'pass.log');
    },
    want: /^folder-sync: log file .*pass\.log has other hard links on the source's file system/,
  },
  {
    name: 'a path through a bind mount of the replica',
    log: (b) => join(bindMount(b.rep, join(tempDir('fs-logguard-mnt-'), 'view')), 'pass.log'),
    want: /is inside the replica/,
  },
  {
    name: 'a FIFO (must not hang)',
    log: (b) => {
      execFileSync('mkfifo', [join(b.base, 'pipe')]);
      return join(b.base, 'pipe');
    },
    want: /^folder-sync: log file is not a regular file \(a FIFO, device or socket\): .*pipe$/,
  },
  { name: 'a device (/dev/full)', log: () => '/dev/full', want: /log file is not a regular file .*: \/dev\/full$/ },
  {
    name: 'a device through a link',
    log: (b) => (symlinkSync('/dev/null', join(b.base, 'null.log')), join(b.base, 'null.log')),
    want: /not a regular file/,
  },
];

describe('--log refusals', () => {
  for (const c of cases) {
    it(`${c.name}: exit 2, one line, source and replica unchanged`, async () => {
      const b = box();
      const log = c.log(b);
      const src = snapshotTree(b.src);
      const rep = snapshotTree(b.rep);
      const r = await runCli(['sync-once', b.src, b.rep, '--log', log], { timeoutMs: 20_000 });
      expect(r.signal, 'the pass hung').toBeNull();
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trimEnd()).toMatch(c.want);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(compareTrees(src, snapshotTree(b.src))).toEqual([]);
      expect(compareTrees(rep, snapshotTree(b.rep))).toEqual([]);
    });
  }

  it('the source file a hard-linked log shares is not appended to', async () => {
    const b = box();
    linkSync(join(b.src, 'notes.txt'), join(b.base, 'pass.log'));
    await runCli(['sync-once', b.src, b.rep, '--log', join(b.base, 'pass.log')]);
    expect(readFileSync(join(b.src, 'notes.txt'), 'utf8')).toBe("the user's notes");
  });

  it('a dangling link outside both trees is followed and its target created there (allowed)', async () => {
    const b = box();
    const logs = tempDir('fs-logguard-logs-');
    symlinkSync(join(logs, 'real.log'), join(b.base, 'pass.log'));
    const r = await runCli(['sync-once', b.src, b.rep, '--log', join(b.base, 'pass.log')]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(logs, 'real.log'))).toBe(true);
  });
});
