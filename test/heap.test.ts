import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = pathToFileURL(resolve(import.meta.dirname, '..', 'dist', 'cli.js')).href;

/**
 * The young generation's size after a workload that makes V8 grow it (many short-lived objects, a share of
 * them surviving each scavenge), in a fresh node process that first runs `prelude`.
 */
function newSpaceAfterWork(prelude: string): { newSpace: number; stdout: string } {
  const script = `${prelude}
const v8 = await import('node:v8');
let keep = [];
for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write('NEW_SPACE ' + space.space_size + '\\n');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const m = /NEW_SPACE (\d+)/.exec(r.stdout);
  expect(m).not.toBeNull();
  return { newSpace: Number(m![1]), stdout: r.stdout };
}

describe('the CLI keeps V8 young generation small (peak RSS of long passes)', () => {
  it('without the flag, the workload grows the young generation past 8 MiB', () => {
    expect(newSpaceAfterWork('').newSpace).toBeGreaterThan(8 << 20);
  });

  it('the built CLI sets the flag at start, and it takes effect at run time: the young generation stays at 4 MiB or less', () => {
    const { newSpace, stdout } = newSpaceAfterWork(
      `process.argv.splice(1, Infinity, 'folder-sync', '--version'); await import(${JSON.stringify(cli)});`,
    );
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n/); // the CLI really ran (and printed its version)
    expect(newSpace).toBeLessThanOrEqual(4 << 20);
  });
});
