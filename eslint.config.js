// Lint: the recommended JS and TypeScript rules, plus import-x/no-cycle so the module graph stays a tree
// (commands -> sync/schedule -> log/errors). Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import noTypeCycle from './scripts/eslint-no-type-cycle.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'demo/', '.bench-cache/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { 'import-x': importX, 'folder-sync': noTypeCycle },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // import-x skips `import type`; a type-only cycle still couples two modules (see the rule's header).
      'folder-sync/no-type-cycle': 'error',
      // `const { durationMs: _d, ...stats } = result` drops a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A CLI that escapes control characters in paths and strips ANSI colour matches them on purpose.
      'no-control-regex': 'off',
      // Help and report text is indented with two spaces; the tests match it literally.
      'no-regex-spaces': 'off',
    },
  },
  {
    // issue 10: one job per file, and no file in src/ over ~300 lines (counted as `wc -l` counts them).
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }] },
  },
);
