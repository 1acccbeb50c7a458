/**
 * Fault-suite helpers: tmpfs mounts for full disks, temporaries and lock files to look for, polling while a
 * pass runs, and the "no torn file" check. Trees are built and compared with ../_tree.ts.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { looksLikeTempName } from '../../src/sync/temp.js';
import { snapshotTree, type TreeSnapshot } from '../_tree.js';

export { Prng } from '../../src/demo/prng.js';

/**
 * Mount a tmpfs of `size` (e.g. "2m") at `dir`. Throws, never skips: a fault case that cannot build its fault
 * must fail loudly. Returns an unmount function (also safe to call twice).
 */
export function mountTmpfs(dir: string, options: string): () => void {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot mount a tmpfs at ${dir} (${options}); the disk-full cases need root: ${stderr ?? error}`);
  }
  let mounted = true;
  return () => {
    if (!mounted) return;
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    mounted = false;
  };
}

export function remountTmpfs(dir: string, options: string): void {
  execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'pipe' });
}

/** Paths (relative to root) of every temporary left in a tree. */
export function tempsIn(root: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      if (looksLikeTempName(name)) out.push(path);
      try {
        if (lstatSync(join(abs, name)).isDirectory()) walk(join(abs, name), path);
      } catch {
        // vanished
      }
    }
  };
  walk(root, '');
  return out;
}

/**
 * A temporary, or an entry inside a temporary folder (a new folder a killed pass was building: walk-build.ts):
 * nothing there is under its real name, and the next pass removes it.
 */
export const inTemporary = (path: string): boolean => path.split('/').some((part) => looksLikeTempName(part));

/** Lock files present in a state folder (a killed pass leaves its own behind). */
export function lockFiles(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, 'locks')).filter((n) => n.endsWith('.lock'));
  } catch {
    return [];
  }
}

/** Poll `check` every `everyMs` until it returns true; false when `timeoutMs` passes first. */
export async function waitFor(check: () => boolean, timeoutMs = 20_000, everyMs = 1): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/**
 * The crash invariant: every file under a real name in `after` holds exactly the bytes of either the source's
 * version (`source`) or the replica's version before the pass (`before`) — never a torn or mixed copy — and
 * nothing appeared that neither side had. Returns one line per violation.
 */
export function tornFiles(after: TreeSnapshot, source: TreeSnapshot, before: TreeSnapshot): string[] {
  const bad: string[] = [];
  for (const [path, snap] of after) {
    if (inTemporary(path)) continue;
    const s = source.get(path);
    const b = before.get(path);
    if (!s && !b) {
      bad.push(`${JSON.stringify(path)}: in neither the source nor the replica before the pass`);
      continue;
    }
    if (snap.type !== 'file') continue;
    const ok = (x: typeof s): boolean => x?.type === 'file' && x.hash === snap.hash;
    if (!ok(s) && !ok(b)) bad.push(`${JSON.stringify(path)}: ${snap.size} bytes match neither version`);
  }
  return bad;
}

/**
 * issue 14: entries of `before` (the replica before a pass with --versions) found neither in the replica after
 * it (same type; same bytes for a file, same target for a link) nor at the same path in any pass folder of the
 * versions folder `versions`. Empty means nothing was lost.
 */
export function lostEntries(before: TreeSnapshot, after: TreeSnapshot, versions: string): string[] {
  const passes: TreeSnapshot[] = [];
  try {
    for (const name of readdirSync(versions)) if (/^\d{4}-.*Z(-\d+)?$/.test(name)) passes.push(snapshotTree(join(versions, name)));
  } catch {
    // no versions folder yet: nothing kept
  }
  const same = (a: TreeSnapshot extends Map<string, infer S> ? S : never, b: typeof a | undefined): boolean =>
    b !== undefined && a.type === b.type && a.hash === b.hash && a.target === b.target;
  const lost: string[] = [];
  for (const [path, snap] of before) {
    if (path === '.' || inTemporary(path)) continue;
    if (same(snap, after.get(path)) || passes.some((p) => same(snap, p.get(path)))) continue;
    lost.push(`${JSON.stringify(path)} (${snap.type}${snap.size !== undefined ? `, ${snap.size} bytes` : ''})`);
  }
  return lost;
}

export { snapshotTree };
