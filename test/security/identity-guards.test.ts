/**
 * Issue 11 point 3: the same/nested guards compare identities (device, inode) of both roots and their
 * ancestors, and the mount table's view of them, so bind mounts are caught both ways; the replica lock is keyed
 * by the replica's identity, so any path to a busy replica gets exit 75. Uses `mount --bind` (root).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoCli, runCli } from '../_cli.js';
import { buildTree, compareTrees, snapshotTree, tempDir } from '../_tree.js';
import { bindMount } from './_mounts.js';

interface Box {
  base: string;
  src: string;
}

function box(): Box {
  const base = tempDir('fs-bind-');
  mkdirSync(join(base, 'src'));
  const src = buildTree(join(base, 'src'), { keep: 'source file', sub: { inner: 'inner file', deeper: { x: 'x' } } });
  return { base, src };
}

const refusals: { name: string; make: (b: Box) => [string, string]; want: RegExp }[] = [
  {
    name: 'replica is a bind mount of a source subfolder',
    make: (b) => [b.src, bindMount(join(b.src, 'sub'), join(b.base, 'mnt-rep'))],
    want: /^folder-sync: replica .*mnt-rep is inside the source .*src$/,
  },
  {
    name: 'source is a bind mount of a replica subfolder',
    make: (b) => {
      mkdirSync(join(b.base, 'rep'));
      const rep = buildTree(join(b.base, 'rep'), { part: { y: 'y' } });
      return [bindMount(join(rep, 'part'), join(b.base, 'mnt-src')), rep];
    },
    want: /^folder-sync: source .*mnt-src is inside the replica .*rep$/,
  },
  {
    name: 'replica (missing) below a bind mount of the source',
    make: (b) => [b.src, join(bindMount(b.src, join(b.base, 'alias')), 'backup', 'r')],
    want: /^folder-sync: replica .*alias\/backup\/r is inside the source .*src$/,
  },
  {
    name: "replica below a bind mount of the source's parent",
    make: (b) => [b.src, join(bindMount(b.base, join(tempDir('fs-bind-other-'), 'up')), 'src', 'sub')],
    want: /is inside the source/,
  },
  {
    name: 'replica is the source through a bind mount',
    make: (b) => [b.src, bindMount(b.src, join(b.base, 'same'))],
    want: /^folder-sync: source and replica are the same folder: .*src \(also reached as .*same\)$/,
  },
];

describe('same and nested folders by identity', () => {
  for (const c of refusals) {
    it(`${c.name}: exit 2, one line, nothing changed`, async () => {
      const b = box();
      const [src, rep] = c.make(b);
      const before = snapshotTree(b.src);
      const r = await runCli(['sync-once', src, rep]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trimEnd()).toMatch(c.want);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(compareTrees(before, snapshotTree(b.src))).toEqual([]);
    });
  }
});

describe('the replica lock', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('a pass through a bind-mounted path to a busy replica gets 75; nothing is written through the alias', async () => {
    const b = box();
    const rep = join(b.base, 'rep');
    mkdirSync(rep);
    const state = tempDir('fs-state-');
    const lockModule = join(dirname(repoCli), 'sync', 'lock.js');
    const script =
      `const { ReplicaLock } = await import(${JSON.stringify(lockModule)});` +
      `new ReplicaLock(${JSON.stringify(rep)}, 'sync-once', ${JSON.stringify(state)}).acquire();` +
      `process.stdout.write('held\\n'); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
    });
    const alias = bindMount(rep, join(tempDir('fs-bind-alias-'), 'rep-alias'));
    const r = await runCli(['sync-once', b.src, alias], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/^folder-sync: another pass is running on /);
    expect(readdirSync(rep)).toEqual([]); // nothing was written through the alias
    holder.kill('SIGKILL');
    const after = await new Promise((resolve) => holder.on('exit', resolve));
    expect(after).not.toBeUndefined();
    const ok = await runCli(['sync-once', b.src, alias], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(rep, 'sub', 'inner'))).toBe(true);
  });
});

describe('--versions folders by identity (bind mounts)', () => {
  const cases: { name: string; make: (b: Box, rep: string) => string; want: RegExp }[] = [
    {
      name: 'versions folder is a bind mount of a source subfolder',
      make: (b) => bindMount(join(b.src, 'sub'), join(b.base, 'mnt-versions')),
      want: /^folder-sync: versions folder .*mnt-versions is inside the source .*src; it would be mirrored as data$/,
    },
    {
      name: 'versions folder is the source through a bind mount',
      make: (b) => bindMount(b.src, join(b.base, 'src-alias')),
      want: /^folder-sync: versions folder .*src-alias is the source itself$/,
    },
    {
      name: 'versions folder is the replica through a bind mount',
      make: (b, rep) => bindMount(rep, join(b.base, 'rep-alias')),
      want: /^folder-sync: versions folder .*rep-alias is the replica itself$/,
    },
    {
      name: 'versions folder is a bind mount of a folder deep in the replica',
      make: (b, rep) => {
        mkdirSync(join(rep, 'deep', 'er'), { recursive: true });
        return bindMount(join(rep, 'deep'), join(b.base, 'deep-alias'));
      },
      want: /^folder-sync: versions folder .*deep-alias is inside the replica below its top folder/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2, one line, nothing changed`, async () => {
      const b = box();
      const rep = join(b.base, 'rep');
      mkdirSync(rep);
      const versions = c.make(b, rep);
      const before = snapshotTree(b.base);
      const r = await runCli(['sync-once', b.src, rep, '--versions', versions]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trimEnd()).toMatch(c.want);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(compareTrees(before, snapshotTree(b.base))).toEqual([]);
    });
  }
});
