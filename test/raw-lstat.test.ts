// The walk's lstat without Stats objects (src/sync/raw-lstat.ts): the same Entry as lstatSync for every kind of
// entry and every time the file systems here can hold, lstatSync's own errors, and the cases where it must not
// be used (turned off, Node's permission model, deprecation warnings made loud).
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { entryFromRaw, entryFromStats, listIn, lstatEntry } from '../src/sync/entry.js';
import { exactOnly, fileStat, fileStatFrom, rawFstatInUse, rawLstat, rawLstatInUse } from '../src/sync/raw-lstat.js';
import { runCli } from './_cli.js';
import { isRoot, TEST_USER, tempDir, testUser } from './_tree.js';

const linux = process.platform === 'linux';
const viaStats = (path: string, name: string) => entryFromStats(name, lstatSync(path, { bigint: true }));
/** Sets a time with nanoseconds, which utimes (seconds as a double) cannot give exactly. */
const touchNs = (path: string, stamp: string): void => {
  const r = spawnSync('touch', ['-h', '-m', '-a', '-d', stamp, path]);
  if (r.status !== 0) throw new Error(`touch -d ${stamp} ${path}: ${r.stderr}`);
};

describe.runIf(linux)('raw lstat', () => {
  it('is in use on this Linux Node (the walk reads entries without Stats objects)', () => {
    expect(rawLstatInUse()).toBe(true);
    expect(rawLstat('/')).toBeDefined();
  });

  it('gives the same Entry as lstatSync for every kind of entry', async () => {
    const root = tempDir('fs-raw-');
    const f = join(root, 'file');
    writeFileSync(f, 'hello');
    chmodSync(f, 0o4751);
    linkSync(f, join(root, 'twin'));
    mkdirSync(join(root, 'dir'), 0o710);
    symlinkSync('nowhere/at all', join(root, 'link'));
    spawnSync('mkfifo', [join(root, 'fifo')]);
    const sock = join(root, 'sock');
    const server = createServer();
    await new Promise<void>((done) => server.listen(sock, done));
    const sparse = join(root, 'sparse');
    const fd = openSync(sparse, 'w');
    closeSync(fd);
    spawnSync('truncate', ['-s', String(6 * 2 ** 30), sparse]); // 6 GiB: beyond 32 bits
    if (isRoot) chownSync(join(root, 'dir'), testUser().uid, testUser().gid);
    const paths = ['file', 'twin', 'dir', 'link', 'fifo', 'sock', 'sparse'].map((n) => join(root, n));
    paths.push('/dev/null', '/', root);
    try {
      for (const path of paths) {
        const name = path.split('/').pop() as string;
        const raw = rawLstat(path);
        expect(raw, path).toBeDefined();
        expect(entryFromRaw(name, raw!), path).toEqual(viaStats(path, name));
        expect(lstatEntry(path, name), path).toEqual(viaStats(path, name));
      }
      expect(lstatEntry(join(root, 'file'), 'file')).toMatchObject({ mode: 0o4751, links: 2, type: 'file' });
      expect(lstatEntry('/dev/null', 'null')).toMatchObject({ type: 'special', special: 'char-device' });
      expect(lstatEntry(sock, 'sock')).toMatchObject({ type: 'special', special: 'socket' });
      expect(lstatEntry(join(root, 'fifo'), 'fifo')).toMatchObject({ type: 'special', special: 'fifo' });
      expect(lstatEntry(sparse, 'sparse').size).toBe(6 * 2 ** 30);
    } finally {
      server.close();
    }
  });

  it('gives the same whole milliseconds at every boundary, before 1970 too', () => {
    const root = tempDir('fs-raw-times-');
    const stamps = [
      '2024-05-06 07:08:09.999999999 UTC', // the last nanosecond of a millisecond
      '2024-05-06 07:08:09.001000000 UTC', // exactly one millisecond
      '2024-05-06 07:08:09.000999999 UTC',
      '1969-12-31 23:59:59.998500000 UTC', // -1.5 ms: millisecond -2
      '1969-12-31 23:59:59.999999999 UTC', // -1 ns: millisecond -1
      '1901-12-14 00:00:00.123456789 UTC',
      '2262-04-11 23:47:16.854775807 UTC', // the last time Node's bigint nanoseconds hold
    ];
    stamps.forEach((stamp, i) => {
      const path = join(root, `t${i}`);
      writeFileSync(path, '');
      touchNs(path, stamp);
      const expected = viaStats(path, 't');
      expect(entryFromRaw('t', rawLstat(path)!), stamp).toEqual(expected);
    });
    const path = join(root, 't1');
    utimesSync(path, 1.5, 1.5);
    expect(entryFromRaw('t', rawLstat(path)!)).toMatchObject({ mtimeMs: 1500, atimeMs: 1500 });
  });

  it("throws lstatSync's own errors (missing, not a folder, a loop, a name too long)", () => {
    const root = tempDir('fs-raw-err-');
    writeFileSync(join(root, 'file'), '');
    symlinkSync('loop', join(root, 'loop'));
    const cases = [join(root, 'missing'), join(root, 'file', 'below'), join(root, 'loop', 'x'), join(root, 'n'.repeat(300))];
    for (const path of cases) {
      const ours = (() => {
        try {
          rawLstat(path);
        } catch (error) {
          return error as NodeJS.ErrnoException;
        }
      })();
      const node = (() => {
        try {
          lstatSync(path);
        } catch (error) {
          return error as NodeJS.ErrnoException;
        }
      })();
      expect(ours, path).toBeInstanceOf(Error);
      expect({ code: ours?.code, message: ours?.message, syscall: ours?.syscall, path: ours?.path }).toEqual({
        code: node?.code,
        message: node?.message,
        syscall: node?.syscall,
        path: node?.path,
      });
    }
  });

  it.runIf(isRoot)("gives an unprivileged user lstatSync's EACCES", () => {
    const root = tempDir('fs-raw-denied-', { forUser: true });
    mkdirSync(join(root, 'closed'), 0o700);
    writeFileSync(join(root, 'closed', 'secret'), '');
    const module = join(dirname(inject('asUserCli')), 'sync', 'raw-lstat.js');
    const script = `import(${JSON.stringify(module)}).then((m) => {
      const fs = require('node:fs'); const p = ${JSON.stringify(join(root, 'closed', 'secret'))};
      let a, b; try { m.rawLstat(p) } catch (e) { a = e.code + ' ' + e.message } try { fs.lstatSync(p) } catch (e) { b = e.code + ' ' + e.message }
      console.log(JSON.stringify({ used: m.rawLstatInUse(), a, b }));
    })`;
    const r = spawnSync('runuser', ['-u', TEST_USER, '--', process.execPath, '-e', script], { encoding: 'utf8', cwd: '/' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { used: boolean; a: string; b: string };
    expect(out.used).toBe(true);
    expect(out.a).toMatch(/^EACCES /);
    expect(out.a).toBe(out.b);
  });

  it('leaves numbers a double cannot hold exactly to lstatSync', () => {
    const base = { dev: 64768, mode: 0o100644, nlink: 1, uid: 0, gid: 0, ino: 12, size: 3, atimeMs: 0, mtimeMs: 0 };
    expect(exactOnly(base)).toBe(base);
    expect(exactOnly({ ...base, ino: 2 ** 53 - 1 })).toBeDefined();
    expect(exactOnly({ ...base, ino: 2 ** 53 })).toBeUndefined();
    expect(exactOnly({ ...base, ino: 2 ** 63 })).toBeUndefined();
    expect(exactOnly({ ...base, size: 2 ** 53 })).toBeUndefined();
    expect(exactOnly({ ...base, dev: 2 ** 53 })).toBeUndefined();
  });

  it("reads an open file's fields as fstatSync does (copies ask twice per file): sizes, holes, every time edge", () => {
    expect(rawFstatInUse()).toBe(true);
    const root = tempDir('fs-raw-fstat-');
    const files: [string, (path: string) => void][] = [
      ['empty', () => {}],
      ['small', (p) => writeFileSync(p, 'hello')],
      ['sparse', (p) => truncateSync(p, 5 * 1024 * 1024 * 1024)],
      ['old', (p) => touchNs(p, '1969-12-31 23:59:59.998500000 UTC')],
      ['edge', (p) => touchNs(p, '2024-05-06 07:08:09.999999999 UTC')],
      ['far', (p) => touchNs(p, '2262-04-11 23:47:16.854775807 UTC')],
    ];
    for (const [name, make] of files) {
      const path = join(root, name);
      writeFileSync(path, '');
      make(path);
      const fd = openSync(path, 'r');
      try {
        const node = fstatSync(fd, { bigint: true });
        const ours = fileStat(fd);
        expect(ours, name).toEqual(fileStatFrom(node));
        expect(BigInt(ours.ctimeS) * 1_000_000_000n + BigInt(ours.ctimeNs), name).toBe(node.ctimeNs);
        expect(ours.mtimeMs, name).toBe(entryFromStats(name, lstatSync(path, { bigint: true })).mtimeMs);
      } finally {
        closeSync(fd);
      }
    }
    // A folder opened for reading: its kind is in the mode, as fstatSync says.
    const fd = openSync(root, 'r');
    try {
      expect(fileStat(fd)).toEqual(fileStatFrom(fstatSync(fd, { bigint: true })));
    } finally {
      closeSync(fd);
    }
    expect(() => fileStat(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  const probe = (env: Record<string, string>, flags: string[] = []) => {
    const module = join(import.meta.dirname, '..', 'dist', 'sync', 'raw-lstat.js');
    const r = spawnSync(
      process.execPath,
      [
        ...flags,
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(module)}); console.log(m.rawLstatInUse() && m.rawFstatInUse() ? 'true' : m.rawLstatInUse() || m.rawFstatInUse() ? 'half' : 'false')`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      },
    );
    return { used: r.stdout.trim(), stderr: r.stderr, status: r.status };
  };

  it('is off with FOLDER_SYNC_RAW_LSTAT=0 and under Node’s permission model', () => {
    expect(probe({})).toMatchObject({ used: 'true', status: 0 });
    expect(probe({ FOLDER_SYNC_RAW_LSTAT: '0' })).toMatchObject({ used: 'false', status: 0 });
    const permission = probe({}, ['--experimental-permission', '--allow-fs-read=*', '--allow-child-process']);
    expect(permission).toMatchObject({ used: 'false', status: 0 });
  });

  it('prints no deprecation warning, even when Node is told to make them loud or fatal', async () => {
    const loud = probe({ NODE_OPTIONS: '--pending-deprecation --throw-deprecation' });
    expect(loud).toEqual({ used: 'true', stderr: '', status: 0 });
    const src = tempDir('fs-raw-cli-');
    writeFileSync(join(src, 'a'), 'a');
    const replica = join(tempDir('fs-raw-cli-r-'), 'r');
    const r = await runCli(['sync-once', src, replica], { env: { NODE_OPTIONS: '--pending-deprecation --throw-deprecation' } });
    expect(r.stderr).not.toMatch(/Deprecation|DEP0111/);
    expect(r.code).toBe(0);
    expect(lstatSync(join(replica, 'a')).size).toBe(1);
  });

  it('mirrors a tree of every kind the same with it and without it', async () => {
    const src = tempDir('fs-raw-tree-');
    mkdirSync(join(src, 'd', 'e'), { recursive: true });
    writeFileSync(join(src, 'd', 'e', 'f'), 'f');
    writeFileSync(join(src, 'x'), 'x');
    chmodSync(join(src, 'x'), 0o640);
    symlinkSync('d/e/f', join(src, 'l'));
    touchNs(join(src, 'x'), '1969-12-31 23:59:59.998500000 UTC');
    const out: string[] = [];
    for (const on of ['1', '0']) {
      const replica = join(tempDir('fs-raw-tree-r-'), 'r');
      const first = await runCli(['sync-once', src, replica], { env: { FOLDER_SYNC_RAW_LSTAT: on } });
      const again = await runCli(['sync-once', src, replica], { env: { FOLDER_SYNC_RAW_LSTAT: on } });
      expect(first.code).toBe(0);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
      out.push(
        first.stdout
          .split('\n')
          .filter((l) => /^(created|updated|removed) /.test(l))
          .sort()
          .join('\n'),
      );
    }
    expect(out[0]).toBe(out[1]);
    expect(out[0]).toMatch(/created/);
  });
});

describe('listing by a whole path (the look-ahead thread)', () => {
  it('names each entry as join would, however the folder path is spelled', () => {
    const root = tempDir('fs-list-at-');
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd', 'f'), 'f');
    symlinkSync('f', join(root, 'd', 'l'));
    // Access times aside (reading the link moves its own).
    const list = (at: string) => listIn(at).entries.map(({ atimeMs: _, ...rest }) => rest);
    const expected = list(join(root, 'd'));
    expect(listIn(join(root, 'd')).entries.map((e) => [e.name, e.target])).toEqual([
      ['f', undefined],
      ['l', 'f'],
    ]);
    const cwd = process.cwd();
    process.chdir(root);
    try {
      for (const at of [
        join(root, 'd'),
        `${root}/d/`,
        `${root}//d`,
        `${root}/./d`,
        `${root}/d/../d`,
        'd',
        './d',
        'd/',
        '../' + root.split('/').pop() + '/d',
      ]) {
        expect(list(at), at).toEqual(expected);
      }
      process.chdir(join(root, 'd'));
      expect(list('.')).toEqual(expected);
    } finally {
      process.chdir(cwd);
    }
  });
});
