/**
 * vitest globalSetup: checks the built CLI is there, and makes it runnable by the unprivileged test user.
 * CI may clone the repository where that user cannot read it (under /root): then dist/, package.json and
 * node_modules/ are copied into a world-readable temp folder and `asUser` runs use the copy.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, lstatSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

const TEST_USER = 'folder-sync-test';
const repo = resolve(import.meta.dirname, '..');

declare module 'vitest' {
  export interface ProvidedContext {
    /** dist/cli.js as the unprivileged test user can run it (the repository's own, or a readable copy). */
    asUserCli: string;
  }
}

function openUp(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chmodSync(path, (st.mode & 0o7777) | (st.isDirectory() ? 0o755 : 0o644));
  if (st.isDirectory()) for (const name of readdirSync(path)) openUp(join(path, name));
}

export default function setup(project: TestProject): () => void {
  const cli = join(repo, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm test" (its pretest builds) or "npm run build"`);
  let asUserCli = cli;
  let copy: string | undefined;
  if (process.getuid?.() === 0) {
    if (spawnSync('id', ['-u', TEST_USER]).status !== 0) {
      throw new Error(`the unprivileged user ${TEST_USER} does not exist: run "bash scripts/test-setup.sh" as root`);
    }
    const probe = (path: string): boolean => spawnSync('runuser', ['-u', TEST_USER, '--', 'test', '-r', path], { cwd: '/' }).status === 0;
    if (!probe(cli) || !probe(join(repo, 'node_modules', 'citty', 'package.json'))) {
      copy = mkdtempSync(join(tmpdir(), 'folder-sync-cli-'));
      for (const part of ['dist', 'package.json', 'node_modules']) {
        cpSync(join(repo, part), join(copy, part), { recursive: true, verbatimSymlinks: true });
      }
      openUp(copy);
      asUserCli = join(copy, 'dist', 'cli.js');
      if (!probe(asUserCli)) throw new Error(`${TEST_USER} cannot read the copied CLI at ${asUserCli}`);
    }
  }
  project.provide('asUserCli', asUserCli);
  return () => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  };
}
