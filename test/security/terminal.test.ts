/**
 * Issue 11 point 9: every path a command prints is escaped like the log (C0/C1 controls, ESC, bidirectional
 * overrides and isolates), `list --json` included (as JSON escapes, so scripts still read the real names);
 * job names cannot start with "-". Scheduling runs against a stand-in crontab, never a real table.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, terminalJson, terminalText } from '../../src/log.js';
import { runCli } from '../_cli.js';
import { buildTree, tempDir } from '../_tree.js';

const HOSTILE = 'x\u001b[2J\u001b]0;owned\u0007\u009b31m\u202egnp.exe\u2066\u2069\u200f';
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('escaping', () => {
  it('oneLine escapes ESC, C1 controls and bidi controls; terminalJson is the same JSON value without them raw', () => {
    const text = oneLine(HOSTILE);
    expect(text).not.toMatch(RAW);
    expect(text).toContain('\\u001b[2J');
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\u2066');
    expect(text).toContain('\\u009b');
    expect(terminalText(`a ${HOSTILE}\nb`).split('\n')).toHaveLength(2);
    const value = { jobs: [{ source: `/srv/${HOSTILE}` }] };
    const json = terminalJson(value);
    expect(json).not.toMatch(RAW);
    expect(JSON.parse(json)).toEqual(value);
  });
});

/** A stand-in `crontab` keeping its table in a file (the real cron daemon never sees these jobs). */
function fakeCrontab(): Record<string, string> {
  const dir = tempDir('fs-fake-crontab-');
  const table = join(dir, 'table');
  const bin = join(dir, 'crontab');
  writeFileSync(
    bin,
    `#!/bin/sh\ncase "$1" in\n  -l) [ -f '${table}' ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat '${table}' ;;\n  -) cat > '${table}' ;;\n  *) exit 2 ;;\nesac\n`,
  );
  chmodSync(bin, 0o755);
  return { FOLDER_SYNC_CRONTAB: bin, FOLDER_SYNC_STATE_DIR: tempDir('fs-state-') };
}

describe('schedule and list', () => {
  it('print hostile folder names escaped; list --json parses back to the real names', async () => {
    const env = fakeCrontab();
    const base = tempDir('fs-term-');
    const src = join(base, `src ${HOSTILE}`);
    mkdirSync(src);
    buildTree(src, { a: 'a' });
    const rep = join(base, `rep ${HOSTILE}`);
    const log = join(base, `log ${HOSTILE}.log`);
    const s = await runCli(['schedule', src, rep, '5', 'minutes', log, '--name', 'hostile'], { env });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).not.toMatch(RAW);
    expect(s.stdout).toContain(oneLine(src));
    const l = await runCli(['list'], { env });
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).not.toMatch(RAW);
    expect(l.stdout).toContain(oneLine(rep));
    const j = await runCli(['list', '--json'], { env });
    expect(j.stdout).not.toMatch(RAW);
    const parsed = JSON.parse(j.stdout) as { jobs: { name: string; source?: string; replica?: string }[] };
    expect(parsed.jobs.find((x) => x.name === 'hostile')?.replica).toBe(rep);
  });

  for (const name of ['-h', '--help', '-x1']) {
    it(`a job name starting with "-" (${name}) is refused: exit 2, one line, nothing scheduled`, async () => {
      const env = fakeCrontab();
      const base = tempDir('fs-term-');
      mkdirSync(join(base, 'src'));
      const src = buildTree(join(base, 'src'), { a: 'a' });
      const r = await runCli(['schedule', src, join(base, 'rep'), '5', 'minutes', join(base, 'x.log'), `--name=${name}`], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^folder-sync: job name must be .*not starting with "-"/);
      expect(r.stderr.split('\n').filter((x) => x && !x.startsWith('Run "folder-sync --help"'))).toHaveLength(1);
      const table = env['FOLDER_SYNC_CRONTAB']?.replace(/crontab$/, 'table') ?? '';
      expect(existsSync(table) ? readFileSync(table, 'utf8') : '').not.toContain('folder-sync:job=');
    });
  }
});
