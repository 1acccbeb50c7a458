// Micro-benchmark for the access layer (docs/security.md): the same CLI pass, before and after the engine
// walked through opened folders, on one tree. Rows: initial copy (empty replica) and no-op (nothing to do).
// Runs alternate old/new so a busy machine slows both alike; prints the medians.
//
//   node bench/access-walk.mjs --old <old dist/cli.js> [--new dist/cli.js] [--files 20000] [--folders 600] [--runs 7]
//
// Build the old CLI from a commit before the change, e.g.:
//   git archive 170f4ad | tar -x -C /tmp/old && (cd /tmp/old && npm ci && npm run build)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeSmallTree } from './trees.mjs';

const { values } = parseArgs({
  options: {
    old: { type: 'string' },
    new: { type: 'string', default: resolve(import.meta.dirname, '..', 'dist', 'cli.js') },
    files: { type: 'string', default: '20000' },
    folders: { type: 'string', default: '600' },
    runs: { type: 'string', default: '7' },
  },
});
if (!values.old) throw new Error('--old <path to the old dist/cli.js> is required');
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), 'fs-access-bench-'));
const src = join(work, 'src');
makeSmallTree(src, { files: Number(values.files), folders: Number(values.folders), maxSize: 4096, seed: 11 });

function pass(cli, replica) {
  const t = performance.now();
  execFileSync(process.execPath, [cli, 'sync-once', src, replica, '--quiet'], {
    stdio: 'ignore',
    env: { ...process.env, FOLDER_SYNC_STATE_DIR: join(work, 'state') },
  });
  return performance.now() - t;
}

const rows = { old: { initial: [], noop: [] }, new: { initial: [], noop: [] } };
for (let i = 0; i < runs; i++) {
  for (const which of i % 2 === 0 ? ['old', 'new'] : ['new', 'old']) {
    const replica = join(work, `rep-${which}-${i}`);
    rows[which].initial.push(pass(values[which], replica));
    rows[which].noop.push(pass(values[which], replica));
    rmSync(replica, { recursive: true, force: true });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`tree: ${values.files} files in ${values.folders} folders; ${runs} runs each, alternating; medians in ms`);
for (const row of ['initial', 'noop']) {
  const o = median(rows.old[row]);
  const n = median(rows.new[row]);
  console.log(`${row.padEnd(8)} old ${o.toFixed(0).padStart(6)}  new ${n.toFixed(0).padStart(6)}  new/old ${(n / o).toFixed(3)}`);
}
rmSync(work, { recursive: true, force: true });
