import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './_tree.js';

describe('bench/filters.mjs (smoke mode, so the filter rows cannot rot)', () => {
  it('runs both rows on tiny trees, checks the replica stayed a copy, and prints them', () => {
    const cache = tempDir('fs-bench-filters-');
    const json = join(cache, 'rows.json');
    const r = spawnSync(process.execPath, ['bench/filters.mjs', '--smoke', '--cache', cache, '--json', json], { encoding: 'utf8', timeout: 50_000 });
    expect(r.status, r.stderr).toBe(0);
    const { rows } = JSON.parse(readFileSync(json, 'utf8')) as { rows: { id: string; ratio: number }[] };
    expect(rows.map((x) => x.id)).toEqual(['filter-noop-small', 'filter-noop-modules']);
    for (const row of rows) expect(row.ratio).toBeGreaterThan(0);
    expect(r.stdout).toContain('| no-op, 20 patterns vs none |');
  });
});
