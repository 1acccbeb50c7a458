/**
 * End-to-end: the built CLI's `versions` and `restore` on a real versions folder (made here by the store the
 * passes use): listings, exact restores (bytes, mode, mtime, links, whole folders), and every refusal as one
 * line with exit 2 and nothing changed.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VersionStore, type KeptLine } from '../src/versions/store.js';
import { runCli } from './_cli.js';
import { buildTree, compareTrees, dir, file, snapshotTree, symlink, tempDir } from './_tree.js';

const T0 = Date.UTC(2026, 10, 28, 5, 30, 0);
const DAY = 86_400_000;

/** src/ and rep/ and a versions folder v/ with two passes: yesterday kept report.txt v1, today v2 and the folder album. */
function fixture(): { box: string; src: string; rep: string; v: string } {
  const box = realpathSync(tempDir('fs-vcli-'));
  const src = join(box, 'src');
  const rep = join(box, 'rep');
  const v = join(box, 'v');
  buildTree(box, { src: {}, rep: {} });
  const keep = (startedAt: number, lines: KeptLine[]): void => {
    const store = new VersionStore(v, { source: src, replica: rep, startedAt });
    for (const l of lines) {
      const at = l.path.includes('/') ? join(rep, l.path.slice(0, l.path.lastIndexOf('/'))) : rep;
      store.keep(at, l.path.slice(l.path.lastIndexOf('/') + 1), l);
    }
    store.close();
  };
  buildTree(rep, { 'report.txt': file('report v1', { mode: 0o640, mtime: T0 - 3 * DAY + 5 }) });
  keep(T0 - DAY, [{ path: 'report.txt', kind: 'file', action: 'updated' }]);
  buildTree(rep, {
    'report.txt': file('report v2, longer', { mode: 0o600, mtime: T0 - 2 * DAY + 7 }),
    album: dir(
      { 'a.jpg': file(Buffer.from([1, 2, 3]), { mode: 0o644, mtime: T0 - 9 * DAY }), cover: symlink('a.jpg') },
      { mode: 0o750, mtime: T0 - 8 * DAY },
    ),
    link: symlink('../elsewhere'),
  });
  keep(T0, [
    { path: 'report.txt', kind: 'file', action: 'updated' },
    { path: 'album', kind: 'dir', action: 'removed' },
    { path: 'link', kind: 'symlink', action: 'replaced' },
  ]);
  return { box, src, rep, v };
}

describe('folder-sync versions', () => {
  it('lists the pass folders with entries and sizes', async () => {
    const f = fixture();
    const r = await runCli(['versions', f.v]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`versions folder ${f.v} (replica ${f.rep})`);
    expect(lines.slice(2)).toEqual([
      `2026-11-27T05-30-00Z${' '.repeat(4)}${'1'.padStart(7)}  9 B`,
      `2026-11-28T05-30-00Z${' '.repeat(4)}${'5'.padStart(7)}  20 B`,
      '2 pass folders, 6 entries, 29 B',
    ]);
    const json = JSON.parse((await runCli(['versions', f.v, '--json'])).stdout);
    expect(json.passes.map((p: { pass: string; entries: number; bytes: number }) => [p.pass, p.entries, p.bytes])).toEqual([
      ['2026-11-27T05-30-00Z', 1, 9],
      ['2026-11-28T05-30-00Z', 5, 20],
    ]);
  });

  it('lists the kept versions of one path, oldest first, relative or absolute in the replica', async () => {
    const f = fixture();
    for (const path of ['report.txt', './report.txt', join(f.rep, 'report.txt')]) {
      const r = await runCli(['versions', f.v, path]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('kept versions of "report.txt": 2');
      expect(lines[1]).toMatch(/^ {2}2026-11-27T05-30-00Z {2}updated {2}file, 9 B {2}mode 640 {2}modified 2026-11-25 /);
      expect(lines[2]).toMatch(/^ {2}2026-11-28T05-30-00Z {2}updated {2}file, 17 B {2}mode 600 {2}modified 2026-11-26 /);
    }
    const album = await runCli(['versions', f.v, 'album/cover', '--json']);
    expect(JSON.parse(album.stdout).versions).toEqual([
      expect.objectContaining({ pass: '2026-11-28T05-30-00Z', action: 'removed with "album"', kind: 'symlink', target: 'a.jpg' }),
    ]);
  });
});

describe('folder-sync restore', () => {
  it('a file: the newest version, or the one at --at, with exact bytes, mode and mtime', async () => {
    const f = fixture();
    const out = join(f.box, 'out');
    let r = await runCli(['restore', f.v, 'report.txt', join(out, 'newest.txt')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`restored "report.txt" from versions 2026-11-28T05-30-00Z to ${join(out, 'newest.txt')} (file, 17 B)\n`);
    r = await runCli(['restore', f.v, 'report.txt', join(out, 'older.txt'), '--at', '2026-11-27T05-30-00Z']);
    expect(r.code, r.stderr).toBe(0);
    const expected = buildTree(tempDir('fs-vexp-'), {
      'newest.txt': file('report v2, longer', { mode: 0o600, mtime: T0 - 2 * DAY + 7 }),
      'older.txt': file('report v1', { mode: 0o640, mtime: T0 - 3 * DAY + 5 }),
    });
    expect(compareTrees(expected, out, { ignoreRoot: true })).toEqual([]);
  });

  it('a folder as the whole kept tree, links recreated (not followed)', async () => {
    const f = fixture();
    const out = join(f.box, 'restored-album');
    const r = await runCli(['restore', f.v, 'album', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(folder, 3 entries, 3 B)');
    const expected = buildTree(tempDir('fs-vexp-'), {
      album: dir(
        { 'a.jpg': file(Buffer.from([1, 2, 3]), { mode: 0o644, mtime: T0 - 9 * DAY }), cover: symlink('a.jpg') },
        { mode: 0o750, mtime: T0 - 8 * DAY },
      ),
    });
    expect(compareTrees(join(expected, 'album'), out)).toEqual([]);
    const link = await runCli(['restore', f.v, 'link', join(f.box, 'l')]);
    expect(link.code, link.stderr).toBe(0);
    expect(readlinkSync(join(f.box, 'l'))).toBe('../elsewhere');
  });

  it('a kept folder swapped for a link to elsewhere: nothing from there is restored', async () => {
    const f = fixture();
    const secret = buildTree(tempDir('fs-vsecret-'), { 'a.jpg': 'secret bytes' });
    // The newest pass folder holds the kept album; its owner swaps it for a link before the restore.
    const pass = readdirSync(f.v)
      .filter((n) => !n.startsWith('.'))
      .sort()
      .at(-1) as string;
    const album = join(f.v, pass, 'album');
    expect(existsSync(join(album, 'a.jpg'))).toBe(true);
    renameSync(album, join(f.box, 'album-moved'));
    symlinkSync(secret, album);
    const out = join(f.box, 'restored.jpg');
    const r = await runCli(['restore', f.v, 'album/a.jpg', out]);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').not.toContain('secret');
  });

  it('--force replaces an existing file or folder', async () => {
    const f = fixture();
    buildTree(f.box, { 'old.txt': 'old', olddir: { junk: 'junk' } });
    expect((await runCli(['restore', f.v, 'report.txt', join(f.box, 'old.txt'), '--force'])).code).toBe(0);
    expect(readFileSync(join(f.box, 'old.txt'), 'utf8')).toBe('report v2, longer');
    expect((await runCli(['restore', f.v, 'album', join(f.box, 'olddir'), '--force'])).code).toBe(0);
    expect(existsSync(join(f.box, 'olddir', 'junk'))).toBe(false);
    expect(lstatSync(join(f.box, 'olddir', 'cover')).isSymbolicLink()).toBe(true);
  });

  it('into the source only with --into-source', async () => {
    const f = fixture();
    const target = join(f.src, 'report.txt');
    const refused = await runCli(['restore', f.v, 'report.txt', target]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^folder-sync: target .* is in the mirrored source .*; pass --into-source if that is what you want\n$/);
    expect(existsSync(target)).toBe(false);
    const r = await runCli(['restore', f.v, 'report.txt', target, '--into-source']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('report v2, longer');
  });

  interface Refusal {
    name: string;
    args: (f: ReturnType<typeof fixture>) => string[];
    setup?: (f: ReturnType<typeof fixture>) => void;
    want: RegExp;
  }
  const refusals: Refusal[] = [
    {
      name: 'an existing target without --force',
      setup: (f) => writeFileSync(join(f.box, 'exists.txt'), 'mine'),
      args: (f) => ['restore', f.v, 'report.txt', join(f.box, 'exists.txt')],
      want: /target already exists: .*exists\.txt \(pass --force to replace it\)/,
    },
    {
      name: 'a target in the replica, even with --force --into-source',
      args: (f) => ['restore', f.v, 'report.txt', join(f.rep, 'report.txt'), '--force', '--into-source'],
      want: /is in the replica .*, where the next pass would remove or overwrite it/,
    },
    { name: 'a target in the versions folder', args: (f) => ['restore', f.v, 'report.txt', join(f.v, 'x')], want: /is inside the versions folder/ },
    { name: 'a path never kept', args: (f) => ['restore', f.v, 'nope.txt', join(f.box, 'o')], want: /no kept version of "nope\.txt" in / },
    { name: 'a path with ..', args: (f) => ['restore', f.v, '../x', join(f.box, 'o')], want: /the path must stay inside the replica/ },
    {
      name: '--at before the oldest version',
      args: (f) => ['restore', f.v, 'report.txt', join(f.box, 'o'), '--at', '2026-11-01'],
      want: /no kept version of "report\.txt" at or before --at \(the oldest is from 2026-11-27T05-30-00Z\)/,
    },
    {
      name: 'a bad --at',
      args: (f) => ['restore', f.v, 'report.txt', join(f.box, 'o'), '--at', 'last tuesday'],
      want: /--at must be a pass folder name/,
    },
    { name: 'not a versions folder', args: (f) => ['restore', f.src, 'report.txt', join(f.box, 'o')], want: /is not a folder-sync versions folder/ },
    {
      name: 'a missing versions folder',
      args: (f) => ['versions', join(f.box, 'nope')],
      want: /versions folder cannot be read: .*nope: no such file or directory/,
    },
    { name: 'a missing target argument', args: (f) => ['restore', f.v, 'report.txt'], want: /missing argument <target>/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}: one line, exit 2, nothing changed`, async () => {
      const f = fixture();
      c.setup?.(f);
      const before = snapshotTree(f.box);
      const r = await runCli(c.args(f));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(c.want);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
      expect(compareTrees(before, snapshotTree(f.box))).toEqual([]);
    });
  }

  it('--help shows the arguments and examples', async () => {
    for (const cmd of ['versions', 'restore']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`folder-sync ${cmd} `);
    }
    const help = await runCli(['--help']);
    expect(help.stdout).toContain('restore <versions-dir> <path> <target> [--at <time>]');
  });
});
