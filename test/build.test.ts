// `npm run build` starts from an empty dist/: a module deleted or renamed in src/ must not linger in dist/ (tsc
// only adds and overwrites), where the CLI, the tests and the published package would still find it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    expect(pkg.scripts['build']).toBe('node scripts/clean-dist.mjs && tsc -p tsconfig.build.json');
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

  it('left in dist/ only what src/ compiles to (the suite runs after a build)', () => {
    const sources = new Set(filesBelow(join(repo, 'src')).map((f) => f.replace(/\.ts$/, '')));
    const stale = filesBelow(join(repo, 'dist')).filter((f) => !sources.has(f.replace(/\.d\.ts$|\.js$/, '')));
    expect(stale).toEqual([]);
  });
});
