/**
 * Starting a pass's look-ahead thread (lookahead.ts, issue 16): its job, built from the folders the pass opened
 * and the pass's rules. Kept out of lookahead.ts, which the thread loads too: what only the pass's thread runs
 * stays out of the thread's modules.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runsAsRoot } from './apply.js';
import type { ReplicaCaps } from './capabilities.js';
import { chdirAllowed } from './entry.js';
import type { FilterSpec } from './filter.js';
import type { PassPaths } from './path-guards.js';
import { DeferredAhead, LookAhead, type AheadJob } from './lookahead.js';
import type { Roots } from './pass-roots.js';

/**
 * The pass's rules for the thread, --exclude-from paths made absolute: the thread reads them while the walk may
 * have moved the working folder.
 */
export function aheadFilter(spec: FilterSpec | undefined, deleteExcluded: boolean): AheadJob['filter'] {
  if (!spec) return undefined;
  const rules = spec.rules?.map((r) => ('excludeFrom' in r ? { excludeFrom: resolve(r.excludeFrom) } : r));
  return { spec: { ...spec, rules }, deleteExcluded };
}

/**
 * The look-ahead thread for this pass, from the compiled CLI only (it lists by whole paths beside the walk's
 * moves of the working folder, which only the CLI allows), started by the walk once `due()` (lookahead.ts).
 * FOLDER_SYNC_TEST_LOOKAHEAD=first (tests): started at once, and the pass waits until it has looked at
 * everything, so what it finds does not depend on timing (`first-crash`: and the thread fails after its first
 * finding; `first-hold`: and the thread stays until the pass ends, so the pass sees it busy throughout).
 */
export async function lookAhead(
  paths: PassPaths,
  roots: Roots,
  caps: ReplicaCaps,
  srcLocalTime: boolean,
  checksum: boolean,
  filter: AheadJob['filter'],
  due: () => boolean,
): Promise<DeferredAhead | undefined> {
  if (!roots.source || !roots.replica) return undefined;
  const [src, dst] = [roots.source.stat(), roots.replica.stat()];
  const job: AheadJob = {
    source: paths.source,
    replica: paths.replica,
    sourceId: { dev: src.dev, ino: src.ino },
    replicaId: { dev: dst.dev, ino: dst.ino },
    caps,
    srcLocalTime,
    owners: runsAsRoot() && caps.owners,
    checksum,
    filter,
  };
  const allowed = chdirAllowed();
  const ahead = new DeferredAhead(() => LookAhead.start(job, allowed), due);
  if (process.env['FOLDER_SYNC_TEST_LOOKAHEAD']?.startsWith('first')) {
    await ahead.startNow()?.wholeWalk();
    await testGate(process.env['FOLDER_SYNC_TEST_LOOKAHEAD_GATE']);
  }
  return ahead;
}

/**
 * Tests: with FOLDER_SYNC_TEST_LOOKAHEAD_GATE=<path>, once the thread has looked at everything the pass creates
 * `<path>.ready` and waits for `<path>.go` before it walks, so a test can change the trees between the thread's
 * findings and the pass (a folder replaced since it was planned).
 */
async function testGate(gate: string | undefined): Promise<void> {
  if (!gate) return;
  writeFileSync(`${gate}.ready`, '');
  while (!existsSync(`${gate}.go`)) await new Promise((r) => setTimeout(r, 5));
}
