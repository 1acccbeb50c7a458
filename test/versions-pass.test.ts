/**
 * End-to-end: passes with --versions on real folders, through the built CLI. What a pass removes or overwrites
 * (edits, deletions, type changes, a ransomware-like rewrite of many files) is kept, and `versions` / `restore`
 * bring back the exact bytes, mode and mtime; the log says where each entry went; retention prunes by days and
 * by count; refusals change nothing; a versions folder in the replica's top folder is left alone.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Prng } from '../src/demo/prng.js';
import { parsePassFolderName } from '../src/versions/names.js';
import { VersionStore } from '../src/versions/store.js';
import { ops, runCli, runSync, userTempDir } from './_cli.js';
import { mountTmpfs } from './faults/_faults.js';
import { buildTree, compareTrees, dir, file, snapshotTree, symlink, tempDir, type Spec } from './_tree.js';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const DAY = 86_400_000;

/** The first source: files with their own modes and mtimes, a folder, a link, and 150 "documents". */
function firstSource(): Spec {
  const docs: Spec = {};
  for (let i = 0; i < 150; i++)
    docs[`doc${String(i).padStart(3, '0')}.txt`] = file(`document ${i}\n`.repeat(i % 7), { mode: 0o640, mtime: T0 + i * 1000 + 7 });
  return {
    'edit.txt': file('first version', { mode: 0o600, mtime: T0 + 1 }),
    'delete.txt': file('to be deleted', { mode: 0o444, mtime: T0 + 2 }),
    'file-to-dir': file('a file, then a folder', { mtime: T0 + 3 }),
    'dir-to-link': dir({ inside: file('inside', { mtime: T0 + 4 }) }, { mode: 0o750, mtime: T0 + 5 }),
    link: symlink('edit.txt'),
    project: dir(
      { a: file('a', { mtime: T0 + 6 }), sub: dir({ b: file(Buffer.from([0, 255, 1]), { mode: 0o700, mtime: T0 + 8 }) }, { mtime: T0 + 9 }) },
      { mode: 0o755, mtime: T0 + 10 },
    ),
    docs: dir(docs, { mtime: T0 + 11 }),
  };
}

/** Between the passes: an edit, a deletion, two type changes, a re-pointed link, a deleted folder, every document "encrypted". */
function damage(src: string): void {
  writeFileSync(join(src, 'edit.txt'), 'second version, longer');
  rmSync(join(src, 'delete.txt'));
  rmSync(join(src, 'file-to-dir'));
  mkdirSync(join(src, 'file-to-dir'));
  rmSync(join(src, 'dir-to-link'), { recursive: true });
  symlinkSync('elsewhere', join(src, 'dir-to-link'));
  rmSync(join(src, 'link'));
  symlinkSync('delete.txt', join(src, 'link'));
  rmSync(join(src, 'project'), { recursive: true });
  const rng = new Prng(99);
  for (const name of readdirSync(join(src, 'docs'))) writeFileSync(join(src, 'docs', name), rng.fill(Buffer.alloc(64 + rng.int(0, 64))));
}

/** A sandbox: src (the first source), expected (the same tree, never touched), rep, the versions folder beside it, log. */
function sandbox(): { box: string; src: string; expected: string; rep: string; v: string; log: string } {
  const box = realpathSync(tempDir('fs-vpass-'));
  const spec = firstSource();
  mkdirSync(join(box, 'src'));
  mkdirSync(join(box, 'expected'));
  return {
    box,
    src: buildTree(join(box, 'src'), spec),
    expected: buildTree(join(box, 'expected'), spec),
    rep: join(box, 'rep'),
    v: join(box, 'rep.versions'),
    log: join(box, 'sync.log'),
  };
}

async function pass(s: ReturnType<typeof sandbox>, flags: string[] = []): Promise<{ stdout: string; pass?: string }> {
  const r = await runSync(s.src, s.rep, ['--versions', s.v, '--log', s.log, ...flags]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const kept = /kept in versions (\S+?)[,)]/.exec(r.stdout)?.[1];
  return { stdout: r.stdout, pass: kept };
}

describe('a pass with --versions', () => {
  it('keeps every entry it removes or overwrites; restore brings each back exactly (bytes, mode, mtime, links, folders)', async () => {
    const s = sandbox();
    expect(
      ops((await pass(s)).stdout).some((l) => l.includes('kept in versions')),
      'a first pass keeps nothing',
    ).toBe(false);
    expect(existsSync(s.v), 'a pass that keeps nothing makes no versions folder').toBe(false);
    damage(s.src);
    const second = await pass(s);
    expect(compareTrees(s.src, s.rep), 'the replica is still an exact mirror').toEqual([]);
    const name = second.pass as string;
    expect(parsePassFolderName(name), name).toBeDefined();
    const lines = ops(second.stdout);
    expect(lines).toEqual(
      expect.arrayContaining([
        `updated file "edit.txt" (previous kept in versions ${name})`,
        `removed file "delete.txt" (kept in versions ${name})`,
        `removed file "file-to-dir" (kept in versions ${name})`,
        `removed file "dir-to-link/inside" (kept in versions ${name})`,
        `removed dir "dir-to-link" (kept in versions ${name})`,
        `updated symlink "link" (previous kept in versions ${name})`,
        `removed file "project/sub/b" (kept in versions ${name})`,
        `removed dir "project" (kept in versions ${name})`,
        `updated file "docs/doc149.txt" (previous kept in versions ${name})`,
      ]),
    );
    expect(lines.filter((l) => l.startsWith('updated file "docs/'))).toHaveLength(150);

    // Everything the pass kept, at once ("."), is exactly the first source's entries at their paths.
    const all = join(s.box, 'all');
    const r = await runCli(['restore', s.v, '.', all]);
    expect(r.code, r.stderr).toBe(0);
    const restored = snapshotTree(all);
    const first = snapshotTree(s.expected);
    const keptPaths = [
      'edit.txt',
      'delete.txt',
      'file-to-dir',
      'dir-to-link',
      'dir-to-link/inside',
      'link',
      'project',
      'project/a',
      'project/sub',
      'project/sub/b',
    ];
    for (let i = 0; i < 150; i++) keptPaths.push(`docs/doc${String(i).padStart(3, '0')}.txt`);
    const only = (snap: typeof first): typeof first => new Map(keptPaths.map((p) => [p, snap.get(p) as NonNullable<ReturnType<typeof snap.get>>]));
    expect(compareTrees(only(restored), only(first))).toEqual([]);
    expect([...restored.keys()].filter((p) => p !== '.' && p !== 'docs').sort()).toEqual(keptPaths.sort());

    // One file and one folder, one by one.
    expect((await runCli(['restore', s.v, 'edit.txt', join(s.box, 'one', 'edit.txt')])).code).toBe(0);
    expect(
      compareTrees(snapshotTree(join(s.box, 'one')), new Map([...first].filter(([p]) => p === 'edit.txt' || p === '.')), { ignoreRoot: true }),
    ).toEqual([]);
    expect((await runCli(['restore', s.v, 'project', join(s.box, 'project')])).code).toBe(0);
    expect(compareTrees(join(s.expected, 'project'), join(s.box, 'project'))).toEqual([]);

    const listing = await runCli(['versions', s.v]);
    expect(listing.stdout).toContain(`${name}  `);
    expect(listing.stdout).toMatch(/1 pass folder, 160 entries, /);
  });

  it('the JSON log carries the pass folder and where each entry is kept', async () => {
    const s = sandbox();
    await pass(s, ['--log-format', 'json']);
    rmSync(join(s.src, 'delete.txt'));
    const { pass: name } = await pass(s, ['--log-format', 'json']);
    const events = readFileSync(s.log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e['path'] === 'delete.txt' && e['action'] === 'removed')).toMatchObject({
      type: 'op',
      action: 'removed',
      kind: 'file',
      versions: name,
      keptAs: join(s.v, name as string, 'delete.txt'),
      message: `removed file "delete.txt" (kept in versions ${name})`,
    });
    expect(events.filter((e) => e['type'] === 'start').at(-1)).toMatchObject({ versions: s.v });
  });

  it('--dry-run says what would be kept and changes nothing', async () => {
    const s = sandbox();
    await pass(s);
    damage(s.src);
    const before = snapshotTree(s.box);
    const r = await runSync(s.src, s.rep, ['--versions', s.v, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(expect.arrayContaining([expect.stringMatching(/^removed file "delete\.txt" \(kept in versions \S+Z, dry run\)$/)]));
    expect(compareTrees(before, snapshotTree(s.box))).toEqual([]);
  });

  it('--max-delete counts removals whether or not they are kept', async () => {
    const s = sandbox();
    await pass(s);
    rmSync(join(s.src, 'project'), { recursive: true }); // 4 entries
    const before = snapshotTree(s.box);
    const r = await runSync(s.src, s.rep, ['--versions', s.v, '--max-delete', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the pass would remove 4 entries, more than --max-delete 3; nothing was changed/);
    expect(compareTrees(before, snapshotTree(s.box))).toEqual([]);
  });

  it('a versions folder in the replica top folder is left alone: not mirrored into, not removed, not counted', async () => {
    const s = sandbox();
    const inside = join(s.rep, '.versions');
    const run = (flags: string[] = []): ReturnType<typeof runSync> => runSync(s.src, s.rep, ['--versions', inside, ...flags]);
    expect((await run()).code).toBe(0);
    rmSync(join(s.src, 'delete.txt'));
    const second = await run(['--max-delete', '1']);
    expect(second.code, second.stderr).toBe(0);
    expect(ops(second.stdout)).toEqual([
      expect.stringMatching(/^removed file "delete\.txt" \(kept in versions /),
      'updated dir "." (metadata: mtime)',
    ]);
    expect(compareTrees(s.src, s.rep, { ignore: (p) => p === '.versions' || p.startsWith('.versions/') })).toEqual([]);
    const third = await run();
    expect(ops(third.stdout), 'the next pass does not touch it').toEqual([]);
    expect(readdirSync(inside).some((n) => parsePassFolderName(n))).toBe(true);
  });

  it('with exclude filters: a removed folder holding an excluded entry is kept entry by entry; the excluded entry stays', async () => {
    const s = sandbox();
    buildTree(s.src, { old: { 'a.txt': 'a', sub: { 'b.txt': 'b' } } });
    await pass(s, ['--exclude', '*.tmp']);
    writeFileSync(join(s.rep, 'old', 'keep.tmp'), 'only in the replica, excluded');
    rmSync(join(s.src, 'old'), { recursive: true });
    const { stdout, pass: name } = await pass(s, ['--exclude', '*.tmp']);
    expect(ops(stdout).sort()).toEqual([
      `removed dir "old/sub" (kept in versions ${name})`,
      `removed file "old/a.txt" (kept in versions ${name})`,
      `removed file "old/sub/b.txt" (kept in versions ${name})`,
      'updated dir "." (metadata: mtime)',
    ]);
    expect(readdirSync(join(s.rep, 'old'))).toEqual(['keep.tmp']);
    expect(readFileSync(join(s.v, name as string, 'old', 'sub', 'b.txt'), 'utf8')).toBe('b');
    expect(existsSync(join(s.v, name as string, 'old', 'keep.tmp'))).toBe(false);
  });

  it('a read-only folder removed by a pass run as its owner is kept whole, with its mode', async () => {
    const box = userTempDir('fs-vro-');
    const src = join(box, 'src');
    const rep = join(box, 'rep');
    const v = join(box, 'v');
    buildTree(box, { src: { stays: 'stays', ro: dir({ f: 'f' }, { mode: 0o555 }) } });
    expect((await runSync(src, rep, ['--versions', v], { asUser: true })).code).toBe(0);
    chmodSync(join(src, 'ro'), 0o755);
    rmSync(join(src, 'ro'), { recursive: true });
    const r = await runSync(src, rep, ['--versions', v], { asUser: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const name = readdirSync(v).find((n) => parsePassFolderName(n)) as string;
    expect(lstatSync(join(v, name, 'ro')).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(v, name, 'ro', 'f'), 'utf8')).toBe('f');
  });
});

describe('retention', () => {
  /** A versions folder that already holds pass folders from `daysAgo` (faked: the store names them by their start). */
  function withOldPasses(s: ReturnType<typeof sandbox>, daysAgo: number[]): string[] {
    const names: string[] = [];
    for (const age of daysAgo) {
      const holder = join(s.box, `old${age}`);
      buildTree(s.box, { [`old${age}`]: { [`gone${age}.txt`]: `gone ${age} days ago` } });
      const store = new VersionStore(s.v, { source: s.src, replica: s.rep, startedAt: Date.now() - age * DAY });
      names.push(store.keep(holder, `gone${age}.txt`, { path: `gone${age}.txt`, kind: 'file', action: 'removed' }));
      store.close();
    }
    return names;
  }

  it('--keep-days prunes pass folders older than n days at the end of the pass, one line each; a user folder of that name shape stays', async () => {
    const s = sandbox();
    await pass(s);
    const [forty, ten, two] = withOldPasses(s, [40, 10, 2]);
    buildTree(s.v, { '2020-01-01T00-00-00Z': { 'mine.txt': 'mine' } });
    writeFileSync(join(s.src, 'edit.txt'), 'changed');
    const { stdout, pass: now } = await pass(s, ['--keep-days', '7']);
    const log = readFileSync(s.log, 'utf8');
    expect(stdout).toContain(`pruned versions ${forty} (1 entries, 16 B)\n`);
    expect(stdout).toContain(`pruned versions ${ten} (1 entries, 16 B)\n`);
    expect(log).toMatch(new RegExp(`INFO pruned versions ${forty} \\(1 entries, 16 B\\)\\n`));
    expect(readdirSync(s.v).sort()).toEqual(['.folder-sync-versions', '2020-01-01T00-00-00Z', two, now].sort());
    expect(readdirSync(join(s.v, '.folder-sync-versions')).sort()).toEqual([`${two}.jsonl`, `${now}.jsonl`, 'store.json'].sort());
  });

  it('--keep-versions keeps the n newest pass folders; without a limit nothing is pruned', async () => {
    const s = sandbox();
    await pass(s);
    const old = withOldPasses(s, [3, 2, 1]);
    writeFileSync(join(s.src, 'edit.txt'), 'changed once');
    await pass(s);
    expect(readdirSync(s.v).filter((n) => parsePassFolderName(n))).toHaveLength(4);
    writeFileSync(join(s.src, 'edit.txt'), 'changed twice');
    const { stdout, pass: now } = await pass(s, ['--keep-versions', '2']);
    expect(stdout.match(/^pruned versions /gm)).toHaveLength(3);
    const left = readdirSync(s.v).filter((n) => parsePassFolderName(n));
    expect(left).toHaveLength(2);
    expect(left).toContain(now);
    expect(left).not.toContain(old[2]);
  });
});

describe('--versions refusals: one line, exit 2, nothing changed', () => {
  const unmounts: (() => void)[] = [];
  afterEach(() => {
    for (const u of unmounts.splice(0)) u();
  });
  const cases: { name: string; setup?: (s: ReturnType<typeof sandbox>) => void; flags: (s: ReturnType<typeof sandbox>) => string[]; want: RegExp }[] =
    [
      {
        name: 'on another file system',
        setup: (s) => unmounts.push(mountTmpfs(join(s.box, 'usb'), 'size=1m')),
        flags: (s) => ['--versions', join(s.box, 'usb', 'v')],
        want: /is on another file system than the replica/,
      },
      { name: 'inside the source', flags: (s) => ['--versions', join(s.src, 'v')], want: /is inside the source/ },
      { name: 'deep inside the replica', flags: (s) => ['--versions', join(s.rep, 'docs', 'v')], want: /inside the replica below its top folder/ },
      {
        name: 'a folder with your files in it',
        setup: (s) => buildTree(s.box, { mine: { 'a.txt': 'a' } }),
        flags: (s) => ['--versions', join(s.box, 'mine')],
        want: /is not empty and was not made by folder-sync/,
      },
      { name: '--keep-days without --versions', flags: () => ['--keep-days', '3'], want: /--keep-days and --keep-versions need --versions <dir>/ },
      {
        name: '--keep-versions 0',
        flags: (s) => ['--versions', s.v, '--keep-versions', '0'],
        want: /--keep-versions needs a whole number of 1 or more/,
      },
    ];
  for (const c of cases) {
    it(c.name, async () => {
      const s = sandbox();
      await pass(s);
      rmSync(join(s.src, 'delete.txt'));
      c.setup?.(s);
      const before = snapshotTree(s.box);
      const r = await runSync(s.src, s.rep, c.flags(s));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(c.want);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(compareTrees(before, snapshotTree(s.box))).toEqual([]);
    });
  }
});
