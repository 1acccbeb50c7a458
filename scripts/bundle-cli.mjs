// `npm run build`, after tsc: the CLI's own modules bundled into dist/cli.js and a few chunks (one per lazily
// loaded command), so a pass reads and resolves a handful of files instead of ~50 (start-up: a 2-file pass
// 105-107 ms -> 96-99 ms, docs/benchmark.md). The chunks go to dist/sync/, beside the helper threads' modules,
// because the engine finds those by `new URL('./<name>-worker.js', import.meta.url)`; the helper threads and the
// public API (dist/index.js) stay tsc's output. Runtime dependencies stay external (installed with the package,
// their licences with them). Plain Node, so it runs on Windows too (runme.bat).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build } from 'rolldown';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const dependencies = Object.keys(pkg.dependencies ?? {});
const builtins = new Set(builtinModules);
const external = (id) => id.startsWith('node:') || builtins.has(id) || dependencies.some((d) => id === d || id.startsWith(`${d}/`));

await build({
  input: new URL('dist/cli.js', root).pathname,
  platform: 'node',
  external,
  logLevel: 'warn',
  output: {
    dir: new URL('dist', root).pathname,
    format: 'esm',
    entryFileNames: 'cli.js',
    chunkFileNames: 'sync/cli-chunk-[name]-[hash].js',
  },
});
