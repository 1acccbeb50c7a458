// A local ESLint rule: no import cycle between our own modules, `import type` included.
// import-x/no-cycle skips type-only imports (they vanish at run time), but a type cycle still ties two modules
// into one: neither can be read, moved or tested without the other. This rule follows every relative import
// (value, type, re-export, dynamic) with TypeScript's own parser and reports the import that closes a loop.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

const cache = new Map(); // file -> { mtimeMs, deps }

/** The project files a module imports by relative specifier, each with the line of its first import. */
function importsOf(file) {
  const mtimeMs = statSync(file).mtimeMs;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.deps;
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const deps = [];
  for (const { fileName } of importedFiles) {
    const target = resolveRelative(file, fileName);
    if (target && !deps.includes(target)) deps.push(target);
  }
  cache.set(file, { mtimeMs, deps });
  return deps;
}

/** './x.js' -> the .ts (or .js/.mjs) file beside the importer; bare specifiers (packages, node:) are not ours. */
function resolveRelative(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(m?js|ts)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.mts`, base, `${stem}/index.ts`]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** A route of files from `start` back to `target`, or undefined. Breadth-first, so the shortest loop is named. */
function routeBack(start, target) {
  const seen = new Set([start]);
  const queue = [[start]];
  while (queue.length > 0) {
    const route = queue.shift();
    for (const next of importsOf(route[route.length - 1])) {
      if (next === target) return route;
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push([...route, next]);
    }
  }
  return undefined;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'forbid import cycles between project modules, type-only imports included' },
    schema: [],
    messages: { cycle: 'Import cycle (type imports count): {{route}}' },
  },
  create(context) {
    const file = context.physicalFilename;
    if (!existsSync(file)) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string') return;
      const target = resolveRelative(file, spec);
      if (!target || target === file) return;
      const route = routeBack(target, file);
      if (!route) return;
      const cwd = context.cwd;
      context.report({ node, messageId: 'cycle', data: { route: [file, ...route, file].map((f) => relative(cwd, f)).join(' -> ') } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { 'no-type-cycle': rule } };
