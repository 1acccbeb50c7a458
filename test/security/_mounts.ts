/** Bind mounts for the identity tests (the suite runs as root in CI); each one is undone after its test. */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { onTestFinished } from 'vitest';

/** `mount --bind from to`; unmounted when the test finishes. Throws (never skips) when it cannot be made. */
export function bindMount(from: string, to: string): string {
  mkdirSync(to, { recursive: true });
  execFileSync('mount', ['--bind', from, to], { stdio: 'pipe' });
  onTestFinished(() => void execFileSync('umount', ['-l', to], { stdio: 'pipe' }));
  return to;
}
