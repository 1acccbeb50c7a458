// The lint setup: both cycle rules are on for our sources, and the local rule sees cycles that are type-only
// (which import-x/no-cycle skips: both of the cycles this rule was written for were of that kind).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain-JS ESLint plugin without type declarations
import noTypeCycle from '../scripts/eslint-no-type-cycle.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Lints `entry` (a file of `files`, written into a temp folder) with only the local cycle rule. */
function lintCycle(files: Record<string, string>, entry: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'fs-lint-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const linter = new Linter({ cwd: dir });
  const config = [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser as Linter.Parser },
      plugins: { 'folder-sync': noTypeCycle as never },
      rules: { 'folder-sync/no-type-cycle': 'error' as const },
    },
  ];
  return linter.verify(files[entry]!, config, { filename: join(dir, entry) }).map((m) => m.message);
}

describe('folder-sync/no-type-cycle', () => {
  it('reports a cycle made of a type-only import', () => {
    const files = {
      'a.ts': "import type { B } from './b.js';\nexport interface A { b?: B }\n",
      'b.ts': "import { a } from './a.js';\nexport interface B { n: number }\nexport const x = a;\n",
    };
    expect(lintCycle(files, 'a.ts')).toEqual(['Import cycle (type imports count): a.ts -> b.ts -> a.ts']);
  });

  it('reports a longer cycle through a re-export, naming every module on it', () => {
    const files = {
      'a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'b.ts': "export { c as b } from './c.js';\n",
      'c.ts': "import type { A } from './a.js';\nexport const c = 1 as unknown as A;\n",
    };
    expect(lintCycle(files, 'a.ts')).toEqual(['Import cycle (type imports count): a.ts -> b.ts -> c.ts -> a.ts']);
  });

  it('accepts a tree of imports (shared leaf, no way back)', () => {
    const files = {
      'a.ts': "import type { B } from './b.js';\nimport { c } from './c.js';\nexport const a: B = { n: c };\n",
      'b.ts': "import { c } from './c.js';\nexport interface B { n: typeof c }\n",
      'c.ts': 'export const c = 1;\n',
    };
    expect(lintCycle(files, 'a.ts')).toEqual([]);
  });
});

describe('eslint.config.js', () => {
  it('turns both cycle rules on for the sources and the tests', async () => {
    const eslint = new ESLint();
    for (const file of ['src/cli.ts', 'src/schedule/scheduler.ts', 'test/lint.test.ts']) {
      const config = (await eslint.calculateConfigForFile(file)) as { rules: Record<string, unknown[]> };
      expect(config.rules['import-x/no-cycle']?.[0], file).toBe(2);
      expect(config.rules['folder-sync/no-type-cycle']?.[0], file).toBe(2);
    }
  });
});
