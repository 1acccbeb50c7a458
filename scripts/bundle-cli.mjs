// `npm run build`, after tsc: the CLI's own modules bundled into dist/cli.js and a few chunks (one per lazily
// loaded command), so a pass reads and resolves a handful of files instead of ~50 (start-up: a 2-file pass
// 105-107 ms -> 96-99 ms, docs/benchmark.md). The chunks go to dist/sync/, beside the helper threads' modules,
// because the engine finds those by `new URL('./<name>-worker.js', import.meta.url)`; the helper threads and the
// public API (dist/index.js) stay tsc's output. Runtime dependencies stay external (installed with the package,
// their licences with them). Plain Node, so it runs on Windows too (runme.bat): file paths by fileURLToPath,
// never a URL's pathname (`/C:/...`, `%20` for a space).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const dependencies = Object.keys(pkg.dependencies ?? {});
const builtins = new Set(builtinModules);
const external = (id) => id.startsWith('node:') || builtins.has(id) || dependencies.some((d) => id === d || id.startsWith(`${d}/`));

await build({
  input: fileURLToPath(new URL('dist/cli.js', root)),
  platform: 'node',
  external,
  logLevel: 'warn',
  output: {
    dir: fileURLToPath(new URL('dist', root)),
    format: 'esm',
    entryFileNames: 'cli.js',
    chunkFileNames: 'sync/cli-chunk-[name]-[hash].js',
  },
});
