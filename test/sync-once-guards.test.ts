/**
 * End-to-end: every refusal and usage error of sync-once exits 2 with one line on stderr, no stack trace,
 * and leaves everything as it was; --help works on every command, --version prints the version.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './_cli.js';
import { buildTree, compareTrees, dir, inodeChanges, snapshotTree, tempDir } from './_tree.js';

interface GuardCase {
  name: string;
  /** Arguments after `sync-once`, built inside a sandbox holding `src/` (one file) and `rep/` (one file). */
  args: (box: string) => string[];
  /** Extra setup inside the sandbox, before the snapshot. */
  setup?: (box: string) => void;
  cwd?: (box: string) => string;
  want: RegExp;
}

const guardCases: GuardCase[] = [
  { name: 'source missing', args: (b) => [join(b, 'nope'), join(b, 'rep')], want: /source folder does not exist: .*nope$/ },
  {
    name: 'source is a file',
    setup: (b) => writeFileSync(join(b, 'file'), 'x'),
    args: (b) => [join(b, 'file'), join(b, 'rep')],
    want: /source is not a folder: .*file$/,
  },
  {
    name: 'replica is a file',
    setup: (b) => writeFileSync(join(b, 'file'), 'x'),
    args: (b) => [join(b, 'src'), join(b, 'file')],
    want: /replica exists but is not a folder: .*file$/,
  },
  {
    name: 'replica is a dangling symlink',
    setup: (b) => symlinkSync(join(b, 'gone'), join(b, 'dangling')),
    args: (b) => [join(b, 'src'), join(b, 'dangling')],
    want: /replica is a symlink to nothing/,
  },
  { name: 'same folder', args: (b) => [join(b, 'src'), join(b, 'src')], want: /source and replica are the same folder/ },
  { name: 'same folder, trailing slash', args: (b) => [`${join(b, 'src')}/`, join(b, 'src')], want: /the same folder/ },
  { name: 'same folder, via ..', args: (b) => [join(b, 'src'), `${join(b, 'rep')}/../src/.`], want: /the same folder/ },
  {
    name: 'same folder, via a symlink',
    setup: (b) => symlinkSync(join(b, 'src'), join(b, 'link')),
    args: (b) => [join(b, 'src'), join(b, 'link')],
    want: /the same folder/,
  },
  {
    name: 'same folder, relative paths',
    cwd: (b) => join(b, 'rep'),
    args: () => ['../src', '../src/'],
    want: /the same folder/,
  },
  { name: 'replica (missing) inside source', args: (b) => [join(b, 'src'), join(b, 'src', 'new', 'r')], want: /replica .* is inside the source/ },
  {
    name: 'replica (existing) inside source',
    setup: (b) => mkdirSync(join(b, 'src', 'inner')),
    args: (b) => [join(b, 'src'), join(b, 'src', 'inner')],
    want: /replica .* is inside the source/,
  },
  {
    name: 'replica inside source via a symlink outside',
    setup: (b) => symlinkSync(join(b, 'src'), join(b, 'alias')),
    args: (b) => [join(b, 'src'), join(b, 'alias', 'r')],
    want: /replica .* is inside the source/,
  },
  {
    name: 'source inside replica',
    setup: (b) => mkdirSync(join(b, 'rep', 'inner')),
    args: (b) => [join(b, 'rep', 'inner'), join(b, 'rep')],
    want: /source .* is inside the replica/,
  },
  {
    name: 'source inside replica via a symlink and ..',
    setup: (b) => {
      mkdirSync(join(b, 'rep', 'inner'));
      symlinkSync(join(b, 'rep', 'inner'), join(b, 'in-link'));
    },
    args: (b) => [join(b, 'in-link'), `${join(b, 'src')}/../rep/`],
    want: /source .* is inside the replica/,
  },
  {
    name: 'log inside the source',
    args: (b) => [join(b, 'src'), join(b, 'rep'), '--log', join(b, 'src', 'logs', 'x.log')],
    want: /log file .* is inside the source/,
  },
  {
    name: 'log inside the replica',
    args: (b) => [join(b, 'src'), join(b, 'rep'), '--log', join(b, 'rep', 'x.log')],
    want: /log file .* is inside the replica/,
  },
  {
    name: 'log inside a replica that does not exist yet',
    args: (b) => [join(b, 'src'), join(b, 'new-rep'), '--log', join(b, 'new-rep', 'x.log')],
    want: /log file .* is inside the replica/,
  },
  {
    name: 'log inside the replica via a symlink',
    setup: (b) => symlinkSync(join(b, 'rep'), join(b, 'rep-link')),
    args: (b) => [join(b, 'src'), join(b, 'rep'), '--log', join(b, 'rep-link', 'sub', 'x.log')],
    want: /log file .* is inside the replica/,
  },
  {
    name: 'log is a folder',
    setup: (b) => mkdirSync(join(b, 'logdir')),
    args: (b) => [join(b, 'src'), join(b, 'rep'), '--log', join(b, 'logdir')],
    want: /log file is a folder/,
  },
  {
    name: 'log cannot be created (its parent is a file)',
    setup: (b) => writeFileSync(join(b, 'plain'), 'x'),
    args: (b) => [join(b, 'src'), join(b, 'rep'), '--log', join(b, 'plain', 'x.log')],
    want: /log file cannot be opened for appending: .*plain\/x\.log: /,
  },
  {
    name: 'a path with a newline stays on one line',
    args: (b) => [join(b, 'no\nsuch'), join(b, 'rep')],
    want: /source folder does not exist: .*no\\u000asuch$/,
  },
];

const usageCases: { name: string; args: string[]; want: RegExp }[] = [
  { name: 'unknown command', args: ['frobnicate'], want: /unknown command "frobnicate"/ },
  { name: 'unknown root flag', args: ['--frob'], want: /unknown option "--frob"/ },
  { name: 'unknown flag', args: ['sync-once', 'a', 'b', '--frob'], want: /unknown option "--frob"/ },
  { name: 'no arguments', args: ['sync-once'], want: /missing argument <source>/ },
  { name: 'missing replica', args: ['sync-once', 'a'], want: /missing argument <replica>/ },
  { name: 'too many arguments', args: ['sync-once', 'a', 'b', 'c'], want: /too many arguments/ },
  { name: 'non-numeric --max-delete', args: ['sync-once', 'a', 'b', '--max-delete', 'ten'], want: /--max-delete needs a whole number/ },
  { name: 'negative --max-delete', args: ['sync-once', 'a', 'b', '--max-delete', '-1'], want: /--max-delete needs a whole number .*"-1"/ },
  { name: 'fractional --max-delete', args: ['sync-once', 'a', 'b', '--max-delete=2.5'], want: /--max-delete needs a whole number .*"2.5"/ },
  { name: '--max-delete without a value', args: ['sync-once', 'a', 'b', '--max-delete'], want: /--max-delete needs a value/ },
  { name: 'bad --log-format', args: ['sync-once', 'a', 'b', '--log-format', 'xml'], want: /--log-format must be "text" or "json"/ },
  { name: '--log without a value', args: ['sync-once', 'a', 'b', '--log'], want: /--log needs a value/ },
  { name: 'a value for a boolean flag', args: ['sync-once', 'a', 'b', '--dry-run=yes'], want: /takes no value/ },
];

function expectOneLine(stderr: string): void {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('sync-once refuses before the first change', () => {
  for (const c of guardCases) {
    it(c.name, async () => {
      const box = buildTree(tempDir(), { src: dir({ a: 'a' }), rep: dir({ old: 'old' }) });
      c.setup?.(box);
      const before = snapshotTree(box);
      const r = await runCli(['sync-once', ...c.args(box)], { cwd: c.cwd?.(box) });
      expect(r.code, r.stderr).toBe(2);
      expectOneLine(r.stderr);
      expect(r.stderr).toMatch(/^folder-sync: /);
      expect(r.stderr.trimEnd()).toMatch(c.want);
      expect(r.stdout).toBe('');
      const after = snapshotTree(box);
      expect(compareTrees(before, after)).toEqual([]);
      expect(inodeChanges(before, after)).toEqual([]);
    });
  }

  it('a refusal found after the log is open is also written to the log', async () => {
    const box = buildTree(tempDir(), { src: dir({}), rep: dir({ keep: 'k' }) });
    const log = join(box, 'logs', 'pass.log');
    const r = await runCli(['sync-once', join(box, 'src'), join(box, 'rep'), '--log', log]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr);
    expect(readFileSync(log, 'utf8')).toMatch(/^\S+Z ERROR pass refused: source .* is empty/);
  });
});

describe('usage errors', () => {
  for (const c of usageCases) {
    it(`${c.name}: exit 2, one line, no stack`, async () => {
      const r = await runCli(c.args);
      expect(r.code, r.stderr).toBe(2);
      expectOneLine(r.stderr);
      expect(r.stderr).toMatch(c.want);
      expect(r.stdout).toBe('');
    });
  }

  it('--verbose adds the stack trace', async () => {
    const r = await runCli(['sync-once', 'a', 'b', '--max-delete', 'x', '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: --max-delete needs a whole number/);
    expect(r.stderr).toMatch(/^UsageError: /m);
    expect(r.stderr).toMatch(/^\s+at /m);
  });

  it('a refusal with --verbose also shows where it came from', async () => {
    const box = tempDir();
    const r = await runCli(['sync-once', join(box, 'nope'), join(box, 'r'), '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^RefusedError: /m);
  });
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('--help at the root lists sync-once and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sync-once/);
  });

  it('no command at all shows usage and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/sync-once/);
  });

  it('--help on every registered command', async () => {
    // The unknown-command error lists what is registered, so commands added later are covered too.
    const listed = /\(commands: ([^)]*)\)/.exec((await runCli(['no-such-command'])).stderr)?.[1];
    const commands = listed?.split(', ') ?? [];
    expect(commands).toContain('sync-once');
    for (const cmd of commands) {
      for (const flag of ['--help', '-h']) {
        const r = await runCli([cmd, flag]);
        expect(r.code, `${cmd} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout, `${cmd} ${flag}`).toMatch(new RegExp(`\\b${cmd}\\b`));
      }
    }
  });

  it('sync-once --help names every flag of the contract and the exit codes', async () => {
    const r = await runCli(['sync-once', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--log', '--log-format', '--checksum', '--dry-run', '--max-delete', '--allow-empty-source', '--quiet', '--verbose']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/Exit codes: 0 .*1 .*2 .*75/);
  });

  it('--help wins over missing arguments', async () => {
    const r = await runCli(['sync-once', 'only-one', '--help']);
    expect(r.code).toBe(0);
  });
});
