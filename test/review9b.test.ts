/**
 * Review of 0568852 (noRuleMatches: one alternation of every rule's expression before the rule-by-rule scan; since
 * session 17 its place is taken by quickRules, src/sync/rule-quick.ts, which these tests now exercise).
 *
 * V8 parses a RegExp when it is made but compiles it on first use, and refuses one past its size limit then
 * ("Regular expression too large", a SyntaxError thrown by `test`). An alternation of ~33k plain rules (fewer
 * with wildcards: ~5.5k of `a*b*c*d*e*f*g`) is past it, so the quick check threw on the first path and the
 * whole pass ended in "unexpected error" with nothing copied, where the rule-by-rule scan had worked.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PassFilter } from '../src/sync/pass-filter.js';
import { quickRules, type ScannedRules } from '../src/sync/rule-quick.js';
import { tempDir } from './_tree.js';

type Scan = ScannedRules & { test(path: string, mode: 'regex'): { ignored: boolean; unignored: boolean } };
const ignore = createRequire(import.meta.url)('ignore') as (o: { ignoreCase: boolean }) => { add(p: string[]): { _rules: Scan } };

describe('quickRules with more rules than one RegExp can hold', () => {
  it('40k plain rules: never throws, and agrees with the scan', () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `file${i}.log`);
    const scan = ignore({ ignoreCase: false }).add(lines)._rules;
    const quick = quickRules(scan);
    for (const path of ['a.txt', 'd/file7.log', 'file39999.log', 'x/']) {
      const r = scan.test(path, 'regex');
      const said = quick === undefined ? false : quick.noneFor(path);
      if (said) expect(r.ignored || r.unignored).toBe(false);
    }
  });

  it('6k wildcard-heavy rules: never throws', () => {
    const lines = Array.from({ length: 6_000 }, (_, i) => `a*b*c*d*e${i}*f*g`);
    const scan = ignore({ ignoreCase: true }).add(lines)._rules;
    const quick = quickRules(scan);
    expect(() => quick?.noneFor('some/dir/file.txt')).not.toThrow();
  });

  it('a PassFilter over an --exclude-from list of 40k lines decides entries as the scan does', () => {
    const root = tempDir('fs-review9b-');
    mkdirSync(join(root, 'src'));
    const list = join(root, 'list.txt');
    writeFileSync(list, Array.from({ length: 40_000 }, (_, i) => `file${i}.log`).join('\n') + '\n');
    const filter = PassFilter.load({ rules: [{ excludeFrom: list }] }, join(root, 'src'));
    const top = filter.root([]);
    expect(top.excluded('a.txt', false)).toBe(false);
    expect(top.excluded('file123.log', false)).toBe(true);
    expect(top.child('d').excluded('file39999.log', false)).toBe(true);
  });
});
