// The public API is exactly the list in docs/api.md, checked against what the build ships (dist/index.js for
// values, dist/index.d.ts for values and types); and embedding it never moves the process's working folder.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { buildTree, compareTrees, dir, file, tempDir } from './_tree.js';

const root = resolve(import.meta.dirname, '..');
const distIndex = join(root, 'dist', 'index.js');
const distCli = join(root, 'dist', 'cli.js');

/** The names in the first column of docs/api.md's table, with their kind. */
function documented(): { name: string; kind: string }[] {
  const rows = readFileSync(join(root, 'docs', 'api.md'), 'utf8').matchAll(/^\| `(\w+)` \| (\w+) \|/gm);
  return [...rows].map(([, name, kind]) => ({ name: name!, kind: kind! }));
}

describe('the public API (dist/index.js)', () => {
  it('exports at run time exactly the functions, classes and constants docs/api.md lists', async () => {
    const api = (await import(pathToFileURL(distIndex).href)) as Record<string, unknown>;
    const values = documented()
      .filter((d) => d.kind !== 'type')
      .map((d) => d.name);
    expect(Object.keys(api).sort()).toEqual([...values].sort());
    for (const { name, kind } of documented().filter((d) => d.kind !== 'type')) {
      expect(typeof api[name], name).toBe(kind === 'constant' ? 'object' : 'function');
    }
  });

  it('declares exactly the names docs/api.md lists, types included (dist/index.d.ts)', () => {
    const program = ts.createProgram([join(root, 'dist', 'index.d.ts')], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    });
    const source = program.getSourceFile(join(root, 'dist', 'index.d.ts'))!;
    const checker = program.getTypeChecker();
    const names = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).map((s) => s.getName());
    expect(names.sort()).toEqual(
      documented()
        .map((d) => d.name)
        .sort(),
    );
  });

  it('keeps implementation details out: no listing, planner, lock, builders or quoting helpers', async () => {
    const api = (await import(pathToFileURL(distIndex).href)) as Record<string, unknown>;
    for (const name of ['listDir', 'allowChdirListing', 'planDir', 'ReplicaLock', 'buildCronLine', 'shQuote', 'buildWrapperVbs', 'stateDir']) {
      expect(api[name], name).toBeUndefined();
    }
  });
});

/** A child Node that counts process.chdir calls, then runs `body` (ESM); prints the count last. */
function countChdir(body: string): { chdirs: number; stderr: string } {
  const script = `
let chdirs = 0;
const chdir = process.chdir.bind(process);
process.chdir = (d) => { chdirs++; chdir(d); };
process.on('exit', () => process.stdout.write('\\nchdirs=' + chdirs + '\\n'));
${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const m = /chdirs=(\d+)\n$/.exec(r.stdout);
  if (!m) throw new Error(`child failed: ${r.stderr}`);
  return { chdirs: Number(m[1]), stderr: r.stderr };
}

describe('the listing that moves into each folder', () => {
  const spec = { a: dir({ b: dir({ 'c.txt': file('c') }) }), 'd.txt': file('d') };

  it('is never used through the API: syncOnce lists by whole paths and mirrors the same', () => {
    const src = buildTree(tempDir(), spec);
    const dst = join(tempDir(), 'replica');
    const r = countChdir(
      `const { syncOnce, createLogger } = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
await syncOnce(${JSON.stringify(src)}, ${JSON.stringify(dst)}, { logger: createLogger([]) });`,
    );
    expect(r.chdirs).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('is what the CLI uses (one move in and one back per folder listed)', () => {
    const src = buildTree(tempDir(), spec);
    const dst = join(tempDir(), 'replica');
    const r = countChdir(
      `process.argv = [process.argv[0], ${JSON.stringify(distCli)}, 'sync-once', ${JSON.stringify(src)}, ${JSON.stringify(dst)}, '--quiet'];
await import(${JSON.stringify(pathToFileURL(distCli).href)});`,
    );
    expect(r.chdirs).toBeGreaterThan(0);
    expect(r.chdirs % 2).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});
