/**
 * Review of the look-ahead thread (issue 16): cases where the thread's "clean" differs from what the pass would do.
 * Built CLI, FOLDER_SYNC_TEST_LOOKAHEAD=first (the thread has looked at everything before the pass walks).
 */
import { chmodSync, linkSync, lstatSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, runSync } from './_cli.js';
import { buildTree, msToTimeSpec, tempDir, type Spec } from './_tree.js';

const FIRST = { FOLDER_SYNC_TEST_LOOKAHEAD: 'first' };
const OFF = { FOLDER_SYNC_LOOKAHEAD: '0' };

function wide(): Spec {
  const s: Spec = {};
  for (let i = 0; i < 4; i++) s[`d${i}`] = { s: { f: 'same', g: `g${i}` } };
  return s;
}

describe('review: look-ahead vs the pass', () => {
  it('a hard link in the replica across two subtrees: the metadata the pass sets on the first reaches the second', async () => {
    const src = buildTree(tempDir('fs-rv-src-'), wide());
    const reps = [join(tempDir('fs-rv-a-'), 'rep'), join(tempDir('fs-rv-b-'), 'rep')];
    for (const f of ['d0/s/f', 'd3/s/f']) utimesSync(join(src, f), msToTimeSpec(1.7e12), msToTimeSpec(1.7e12));
    for (const rep of reps) {
      expect((await runSync(src, rep)).code).toBe(0);
      // The replica was seeded with hard links (cp -al, rsync -H): d3/s/f is d0/s/f.
      unlinkSync(join(rep, 'd3/s/f'));
      linkSync(join(rep, 'd0/s/f'), join(rep, 'd3/s/f'));
      const t = msToTimeSpec(lstatSync(join(src, 'd3/s')).mtimeMs);
      utimesSync(join(rep, 'd3/s'), t, t);
    }
    chmodSync(join(src, 'd0/s/f'), 0o600); // d3/s/f stays 0o644
    const withIt = await runSync(src, reps[0]!, ['--verbose'], { env: FIRST });
    const without = await runSync(src, reps[1]!, ['--verbose'], { env: OFF });
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    // Without the thread the pass puts d3/s/f's mode back (0o644) after changing d0/s/f's.
    expect(ops(without.stdout)).toEqual(['updated file "d0/s/f" (metadata: mode)', 'updated file "d3/s/f" (metadata: mode)']);
    expect(ops(withIt.stdout)).toEqual(ops(without.stdout));
    expect(lstatSync(join(reps[0]!, 'd3/s/f')).mode & 0o777).toBe(0o644);
  });
});
