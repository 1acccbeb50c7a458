// Command help: plain text unless a person reads it on a terminal (NO_COLOR honoured), and without the flags
// `schedule` writes into scheduler entries (--job/--every/--grid), which still work.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { colourWanted } from '../src/commands/_help.js';
import { repoCli, runCli } from './_cli.js';

const ESC = '\u001b[';
/** The environment of a person's shell: none of the switches that turn colour off (the suite sets some). */
const plainShell = { NO_COLOR: undefined, CI: undefined, TEST: undefined, TERM: 'xterm-256color' };
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** Run the CLI on a pseudo-terminal (util-linux `script`), as a person at a terminal would. */
function onTerminal(args: string, env: Record<string, string | undefined>): string {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const r = spawnSync('script', ['-qec', `"${process.execPath}" "${repoCli}" ${args}`, '/dev/null'], { encoding: 'utf8', env: merged });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('colour in --help', () => {
  for (const cmd of ['sync-once', 'run', 'schedule', 'unschedule', 'list', 'demo']) {
    it(`${cmd} --help piped or redirected: no escape codes, even with no NO_COLOR/CI/TEST set`, async () => {
      const r = await runCli([cmd, '--help'], { env: plainShell });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`folder-sync ${cmd}`);
      expect(r.stdout).not.toContain(ESC);
    });
  }

  it.skipIf(!hasScript)('on a terminal: coloured; with NO_COLOR set to any non-empty value: plain', () => {
    expect(onTerminal('sync-once --help', plainShell)).toContain(`${ESC}1m`);
    for (const value of ['1', 'yes', 'true']) {
      const text = onTerminal('sync-once --help', { ...plainShell, NO_COLOR: value });
      expect(text, `NO_COLOR=${value}`).toContain('folder-sync sync-once');
      expect(text, `NO_COLOR=${value}`).not.toContain(ESC);
    }
  });

  it('colourWanted: a terminal, NO_COLOR unset or empty, TERM not dumb', () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({}, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '0' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });
});

describe('the scheduler-only flags of sync-once', () => {
  it('are not in sync-once --help', async () => {
    const r = await runCli(['sync-once', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--log');
    for (const flag of ['--job', '--every', '--grid', 'scheduled runs']) expect(r.stdout).not.toContain(flag);
  });

  it('are still accepted and checked (the lines of installed jobs keep working)', async () => {
    const r = await runCli(['sync-once', '/nonexistent-src', '/nonexistent-dst', '--job', 'bad name!', '--every', '60']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--job needs a job name');
    const g = await runCli(['sync-once', '/nonexistent-src', '/nonexistent-dst', '--every', '60']);
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('--every and --grid need --job');
  });
});
