/**
 * Differential tests of the exclude matching against git itself: generated patterns over a fixed tree of awkward
 * names, a real git repository holding that tree, and git's answers (`git check-ignore`, `git ls-files -o`)
 * compared with the filter's. No expected answer here is written by hand.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../src/demo/prng.js';
import { listDir } from '../src/sync/entry.js';
import type { FilterSpec } from '../src/sync/filter.js';
import { PassFilter, type DirFilter } from '../src/sync/pass-filter.js';
import { filterListings, readIgnoreFiles } from '../src/sync/walk-filter.js';
import { tempDir } from './_tree.js';

/** The tree: files (every folder holds at least one, so `ls-files` shows folder decisions too) and empty folders. */
const FILES = [
  'a.tmp',
  'keep.tmp',
  'b.txt',
  '.DS_Store',
  'Thumbs.db',
  'thumbs.db',
  'README.md',
  'readme.MD',
  'notes.Md',
  'foo[1].txt',
  'foo1.txt',
  'fooa.txt',
  'star*name',
  '#hash',
  '!bang',
  'trail ',
  'q.txt',
  'qq.txt',
  'a\\b',
  'build/out.js',
  'build/keep.tmp',
  'build/sub/deep.o',
  'Build/X.js',
  'src/build/x.js',
  'src/a.tmp',
  'src/main.ts',
  'src/Main.TS',
  'src/lib/util.ts',
  'src/lib/build.txt',
  'src/lib/lib/x.c',
  'node_modules/pkg/index.js',
  'node_modules/.bin/tool',
  'node_modules/keep.tmp',
  'docs/a/b/c.md',
  'docs/a/x.md',
  'docs/build/out.html',
  'docs/b',
  'log/today.log',
  'logs/today.log',
  'logs/old/x.log',
  'a/b/a/b.txt',
  'a/b.txt',
  'x/a/b/y.txt',
  'x/y.txt',
  // Lines git takes as rules though they look blank or commented when trimmed at both ends (review 17).
  ' #x',
  '\t',
  '\u00a0',
];
const EMPTY_DIRS = ['empty', 'src/empty', 'docs/a/b/empty'];

function allPaths(): { path: string; isDir: boolean }[] {
  const dirs = new Set<string>(EMPTY_DIRS);
  for (const f of [...FILES, ...EMPTY_DIRS]) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...[...dirs].map((path) => ({ path, isDir: true })), ...FILES.map((path) => ({ path, isDir: false }))];
}

/** Pattern atoms: wildcards, classes, globstars, anchors, folder-only, negation, escapes, case, odd lines. */
const ATOMS = [
  '*.tmp',
  '!keep.tmp',
  'build/',
  '/build/',
  'build',
  '**/build',
  'build/**',
  'docs/**',
  'docs/**/b',
  'docs/**/*.md',
  'src/**/*.ts',
  '*.[oc]',
  '*.[!o]',
  'foo[0-9].txt',
  'foo\\[1\\].txt',
  'foo[[]1].txt',
  '?.txt',
  '??.txt',
  'a/b',
  '/a/b',
  'a/**/b.txt',
  '**/a/b',
  '/a.tmp',
  'node_modules/',
  '!node_modules/pkg/',
  'node_modules/*',
  '!node_modules/pkg',
  '.DS_Store',
  '[Tt]humbs.db',
  'Thumbs.db',
  '\\#hash',
  '\\!bang',
  'star\\*name',
  'star*',
  'trail\\ ',
  'trail',
  'trail ',
  'trail\\  ',
  '*.md',
  '!README.md',
  'README.MD',
  '*.MD',
  'docs/a/*',
  '!docs/a/x.md',
  '**/lib',
  'lib/**',
  'lib/',
  'src/lib/',
  '*',
  '!*/',
  '!*.ts',
  '[!a-c]*.txt',
  '[[:upper:]]*',
  '*/',
  'log*',
  'log/',
  'logs/',
  '!log/',
  '**/*.log',
  '!**/today.log',
  'x/**/y.txt',
  'x/*/b',
  '**',
  '/*',
  '*/*.js',
  '!build/keep.tmp',
  '!/build/',
  '!src/build/',
  'src/build',
  '#comment',
  '',
  '*.txt   ',
  'a\\\\b',
  'a\\b',
  '[a-',
  '[z-a]*.txt',
  '***',
  '**/',
  '/**/a',
  'a/**',
  '*.js/',
  'Main.*',
  '!*.TS',
  'empty/',
  '!empty',
  'docs/a/b/',
  '!docs/a/b/empty/',
  'b',
  '!b',
  'old',
  '!*.log',
  'today.log',
  '/logs/old/',
  ' #x',
  '\t',
  '\u00a0',
];
/** Atoms for `--exclude` (comments and blank ones are refused there, see filter.test.ts). */
const CMDLINE_ATOMS = ATOMS.filter((a) => a.trim() !== '' && !a.startsWith('#'));
const DIRS_WITH_FILES = ['', 'src', 'docs', 'docs/a', 'build', 'node_modules', 'a', 'a/b', 'src/lib', 'logs', 'x'];

let repo: string;
const gitEnv: NodeJS.ProcessEnv = {};

/** Run git in the repository; exit 1 is an answer too (check-ignore: no path ignored). */
function git(args: string[], input?: string): string {
  const r = spawnSync('git', args, { cwd: repo, env: gitEnv, input, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  repo = tempDir('fs-filter-git-');
  const home = tempDir('fs-filter-home-');
  Object.assign(gitEnv, process.env, { HOME: home, XDG_CONFIG_HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' });
  for (const f of FILES) {
    mkdirSync(join(repo, f, '..'), { recursive: true });
    writeFileSync(join(repo, f), f);
  }
  for (const d of EMPTY_DIRS) mkdirSync(join(repo, d), { recursive: true });
  execFileSync('git', ['init', '-q', '.'], { cwd: repo, env: gitEnv });
});

function writeIgnoreFiles(name: string, files: Record<string, string[]>): () => void {
  for (const [dir, lines] of Object.entries(files)) writeFileSync(join(repo, dir, name), lines.join('\n') + '\n');
  return () => {
    for (const dir of Object.keys(files)) rmSync(join(repo, dir, name));
  };
}

/** The filter's verdict on one path as a walk reaches it: excluded itself, or inside an excluded folder. */
function ourExcluded(filter: PassFilter, path: string, isDir: boolean): boolean {
  const parts = path.split('/');
  let dir: DirFilter = filter.root(readIgnoreFiles(filter, repo, listDir(repo).entries));
  let at = repo;
  for (const [i, name] of parts.entries()) {
    const last = i === parts.length - 1;
    if (dir.excluded(name, last ? isDir : true)) return true;
    if (last) return false;
    at = join(at, name);
    dir = dir.child(name, readIgnoreFiles(filter, at, listDir(at).entries));
  }
  return false;
}

/** The files a filtered walk keeps (what a pass would mirror), as `ls-files` lists them. */
function ourKeptFiles(filter: PassFilter): string[] {
  const kept: string[] = [];
  const walk = (abs: string, rel: string, dir: DirFilter): void => {
    const entries = listDir(abs).entries.filter((e) => !(rel === '' && e.name === '.git'));
    const { src } = filterListings(dir, entries, [], { deleteExcluded: false, srcMarked: () => false, dstMarked: () => false });
    for (const e of src) {
      const path = rel + e.name;
      if (e.type !== 'dir') kept.push(path);
      else {
        const inner = join(abs, e.name);
        walk(inner, `${path}/`, dir.child(e.name, readIgnoreFiles(filter, inner, listDir(inner).entries)));
      }
    }
  };
  walk(repo, '', filter.root(readIgnoreFiles(filter, repo, listDir(repo).entries)));
  return kept.sort();
}

function caseConfig(ignoreCase: boolean): string[] {
  return ['-c', `core.ignorecase=${ignoreCase}`];
}

/** git check-ignore's verdict per path: ignored when the reported rule is not a `!` rule. */
function gitExcluded(paths: readonly string[], ignoreCase: boolean): Map<string, boolean> {
  const out = git([...caseConfig(ignoreCase), 'check-ignore', '--no-index', '-v', '-n', '-z', '--stdin'], paths.join('\0') + '\0');
  const fields = out.split('\0');
  const verdict = new Map<string, boolean>();
  for (let i = 0; i + 3 < fields.length; i += 4) {
    const pattern = fields[i + 2] ?? '';
    verdict.set(fields[i + 3] ?? '', pattern !== '' && !pattern.startsWith('!'));
  }
  return verdict;
}

function gitKeptFiles(cmdline: readonly string[], perDir: string, ignoreCase: boolean): string[] {
  const args = [...caseConfig(ignoreCase), 'ls-files', '-o', '-z', ...cmdline.map((p) => `--exclude=${p}`), `--exclude-per-directory=${perDir}`];
  return git(args).split('\0').filter(Boolean).sort();
}

function pickAtoms(rng: Prng, pool: readonly string[], min: number, max: number): string[] {
  const n = rng.int(min, max);
  return Array.from({ length: n }, () => rng.pick(pool));
}

describe('one root .gitignore: every path, file or folder, as git check-ignore says', () => {
  const rng = new Prng(13);
  const cases = Array.from({ length: 160 }, (_, i) => ({ lines: pickAtoms(rng, ATOMS, 1, 6), ignoreCase: i % 4 === 3 }));
  // Each atom alone as well, so every one is checked at least once on its own.
  cases.unshift(...ATOMS.map((a) => ({ lines: [a], ignoreCase: false })));
  for (const c of cases) {
    it(`${JSON.stringify(c.lines)}${c.ignoreCase ? ' (ignore case)' : ''}`, () => {
      const cleanup = writeIgnoreFiles('.gitignore', { '': c.lines });
      try {
        const paths = allPaths();
        const expected = gitExcluded(
          paths.map((p) => p.path),
          c.ignoreCase,
        );
        // The same lines given as an --exclude-from file's, the .gitignore itself not read.
        const listFile = join(tempDir('fs-filter-list-'), 'rules');
        writeFileSync(listFile, c.lines.join('\n') + '\n');
        const filter = PassFilter.load({ rules: [{ excludeFrom: listFile }], ignoreCase: c.ignoreCase }, repo);
        const ours = new Map(paths.map((p) => [p.path, ourExcluded(filter, p.path, p.isDir)]));
        expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(expected));
      } finally {
        cleanup();
      }
    });
  }
});

describe('nested ignore files and --exclude rules: the files kept are the ones git ls-files -o keeps', () => {
  const rng = new Prng(1013);
  const cases = Array.from({ length: 120 }, (_, i) => {
    const files: Record<string, string[]> = {};
    for (const d of DIRS_WITH_FILES) if (rng.chance(0.4)) files[d] = pickAtoms(rng, ATOMS, 1, 4);
    const cmdline = rng.chance(0.5) ? pickAtoms(rng, CMDLINE_ATOMS, 1, 3) : [];
    return { files, cmdline, ignoreCase: i % 5 === 4 };
  });
  // Chosen shapes first (git still gives the answers): a --exclude '!' rule re-including a folder an ignore file
  // excludes, a deeper file re-including what a shallower one excludes and the other way round, a re-include
  // inside an excluded folder (git cannot), a --exclude rule over an ignore file's re-include.
  cases.unshift(
    { cmdline: ['!/build/'], files: { '': ['build/'] }, ignoreCase: false },
    { cmdline: ['!node_modules/'], files: { '': ['node_modules/', '*.js'] }, ignoreCase: false },
    { cmdline: [], files: { '': ['*.tmp'], build: ['!keep.tmp'] }, ignoreCase: false },
    { cmdline: [], files: { '': ['!*.tmp'], src: ['*.tmp'] }, ignoreCase: false },
    { cmdline: [], files: { '': ['node_modules/', '!node_modules/pkg/'] }, ignoreCase: false },
    { cmdline: [], files: { '': ['node_modules/'], node_modules: ['!pkg/'] }, ignoreCase: false },
    { cmdline: [], files: { '': ['/*', '!/src/'], src: ['*', '!*/', '!*.ts'] }, ignoreCase: false },
    { cmdline: ['*.tmp'], files: { build: ['!keep.tmp'] }, ignoreCase: false },
    { cmdline: ['*.txt'], files: { a: ['!b.txt'], 'a/b': ['*'] }, ignoreCase: false },
    { cmdline: [], files: { docs: ['a/b/'], 'docs/a': ['!b/'] }, ignoreCase: false },
  );
  for (const c of cases) {
    it(`${JSON.stringify(c.cmdline)} ${JSON.stringify(c.files)}${c.ignoreCase ? ' (ignore case)' : ''}`, () => {
      const cleanup = writeIgnoreFiles('.syncignore', c.files);
      try {
        const spec: FilterSpec = { rules: c.cmdline.map((exclude) => ({ exclude })), ignoreFiles: ['.syncignore'], ignoreCase: c.ignoreCase };
        const filter = PassFilter.load(spec, repo);
        expect(ourKeptFiles(filter)).toEqual(gitKeptFiles(c.cmdline, '.syncignore', c.ignoreCase));
      } finally {
        cleanup();
      }
    });
  }
});

describe('nested .gitignore files: every path, file or folder, as git check-ignore says', () => {
  const rng = new Prng(2013);
  const cases = Array.from({ length: 60 }, () => {
    const files: Record<string, string[]> = {};
    for (const d of DIRS_WITH_FILES) if (rng.chance(0.5)) files[d] = pickAtoms(rng, ATOMS, 1, 4);
    return files;
  });
  for (const files of cases) {
    it(JSON.stringify(files), () => {
      const cleanup = writeIgnoreFiles('.gitignore', files);
      try {
        const paths = allPaths();
        const expected = gitExcluded(
          paths.map((p) => p.path),
          false,
        );
        const filter = PassFilter.load({ ignoreFiles: ['.gitignore'] }, repo);
        const ours = new Map(paths.map((p) => [p.path, ourExcluded(filter, p.path, p.isDir)]));
        expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(expected));
      } finally {
        cleanup();
      }
    });
  }
});
