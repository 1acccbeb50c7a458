// `npm run build` starts from an empty dist/: a module deleted or renamed in src/ must not linger in dist/ (tsc
// only adds and overwrites), where the CLI, the tests and the published package would still find it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './_tree.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('npm run build', () => {
  it('empties dist/ before compiling', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build']).toBe('node scripts/clean-dist.mjs && tsc -p tsconfig.build.json && node scripts/bundle-cli.mjs');
  });

  it('scripts/clean-dist.mjs removes the dist/ beside its folder, and is fine when there is none', () => {
    const root = tempDir('fs-build-');
    mkdirSync(join(root, 'scripts'));
    copyFileSync(join(repo, 'scripts', 'clean-dist.mjs'), join(root, 'scripts', 'clean-dist.mjs'));
    mkdirSync(join(root, 'dist', 'sync'), { recursive: true });
    writeFileSync(join(root, 'dist', 'sync', 'deleted-module.js'), 'export {};\n');
    writeFileSync(join(root, 'kept.txt'), 'not in dist\n');
    for (let run = 0; run < 2; run++) {
      const r = spawnSync(process.execPath, [join(root, 'scripts', 'clean-dist.mjs')], { cwd: tempDir('fs-build-cwd-'), encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(existsSync(join(root, 'dist'))).toBe(false);
    }
    expect(readFileSync(join(root, 'kept.txt'), 'utf8')).toBe('not in dist\n');
  });

  it('left in dist/ only what src/ compiles to, and the chunks of the CLI bundle (the suite runs after a build)', () => {
    const sources = new Set(filesBelow(join(repo, 'src')).map((f) => f.replace(/\.ts$/, '')));
    const chunk = /^sync[/\\]cli-chunk-[\w-]+\.js$/;
    const stale = filesBelow(join(repo, 'dist')).filter((f) => !sources.has(f.replace(/\.d\.ts$|\.js$/, '')) && !chunk.test(f));
    expect(stale).toEqual([]);
  });

  // issue 16 (start-up): the CLI's own modules are bundled, so a pass loads a handful of files instead of ~50.
  it('dist/cli.js is the bundle: it imports only its chunks (beside the helper threads), node: modules and the runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const cli = readFileSync(join(repo, 'dist', 'cli.js'), 'utf8');
    expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const specifiers = [...cli.matchAll(/(?:^import\b[^'"]*|\bimport\()\s*["']([^"']+)["']/gm)].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(5);
    const own = specifiers.filter((s) => s.startsWith('.'));
    expect(own.filter((s) => !/^\.\/sync\/cli-chunk-[\w-]+\.js$/.test(s))).toEqual([]);
    const deps = Object.keys(pkg.dependencies);
    const others = specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !deps.some((d) => s === d || s.startsWith(`${d}/`)));
    expect(others).toEqual([]);
    for (const s of own) expect(existsSync(join(repo, 'dist', s)), s).toBe(true);
    for (const worker of ['compare-worker.js', 'copy-worker.js', 'lookahead-worker.js'])
      expect(existsSync(join(repo, 'dist', 'sync', worker))).toBe(true);
  });

  // The bundle step names its files as paths, not URL pathnames: `%20` for a space (and `/C:/...` on Windows) is
  // no file, and runme.bat / runme.sh build in whatever folder the user cloned into.
  it('scripts/bundle-cli.mjs works in a folder whose path has a space', () => {
    const root = join(tempDir('fs-build-'), 'with space');
    mkdirSync(join(root, 'scripts'), { recursive: true });
    mkdirSync(join(root, 'dist', 'sync'), { recursive: true });
    copyFileSync(join(repo, 'scripts', 'bundle-cli.mjs'), join(root, 'scripts', 'bundle-cli.mjs'));
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module', dependencies: {} }));
    writeFileSync(join(root, 'dist', 'cli.js'), "const m = await import('./sync/lazy.js');\nconsole.log(m.x);\n");
    writeFileSync(join(root, 'dist', 'sync', 'lazy.js'), 'export const x = 42;\n');
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(spawnSync(process.execPath, [join(root, 'dist', 'cli.js')], { encoding: 'utf8' }).stdout).toBe('42\n');
  });
});
