/**
 * Test helper: real file systems for replicas (and sources) on images, loop devices, FUSE and a localhost sshd:
 * exFAT (exfat-fuse), FAT32 (fusefat), NTFS (ntfs-3g), sshfs, xfs and btrfs. `scripts/test-setup.sh` installs
 * the drivers and starts the sshd. Mounting needs root: as a non-root developer the suites using this skip
 * (that, and only that, is the skip condition; in CI, as root, a mount that fails fails the test).
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { isRoot } from './_tree.js';

export type FsKind = 'exfat' | 'vfat' | 'ntfs' | 'sshfs' | 'xfs' | 'btrfs';
export const ALL_KINDS: readonly FsKind[] = ['exfat', 'vfat', 'ntfs', 'sshfs', 'xfs', 'btrfs'];

/** Mounting needs root. */
export const canMount = isRoot;
export const SKIP_REASON = 'mounting file systems needs root (CI runs as root): skipped for this non-root user';

/** Where scripts/test-setup.sh keeps the private sshd (keep in step with it). */
export const SSHD_DIR = '/var/lib/folder-sync-test/sshd';
export const SSHD_PORT = 22022;

/** Image sizes (sparse files): small, but over each mkfs's minimum (FAT32 wants ~33 MB, xfs 300 MB). */
const SIZES: Record<Exclude<FsKind, 'sshfs'>, string> = { exfat: '32M', vfat: '40M', ntfs: '16M', xfs: '300M', btrfs: '128M' };

export interface MountOptions {
  /** The TZ the driver runs with (FAT keeps local time); default UTC. */
  tz?: string;
  /** Mount on this existing empty folder (e.g. inside a replica) instead of a fresh one. */
  at?: string;
  /** xfs and btrfs: more mount options (e.g. 'grpid': new entries take their folder's group). */
  options?: string;
}

export interface Mounted {
  kind: FsKind;
  /** The mounted folder (the file system's root). */
  path: string;
  /** Unmount and mount the same image again (e.g. with another TZ: FAT reads every time shifted). */
  remount(opts?: MountOptions): void;
  /** Unmount and free the loop device; safe to call twice. afterAll calls it anyway. */
  unmount(): void;
}

function run(cmd: string, args: readonly string[], opts: ExecFileSyncOptions = {}): string {
  try {
    return String(execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, ...opts }) ?? '');
  } catch (error) {
    const e = error as { stderr?: Buffer | string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${String(e.stderr ?? '').trim() || e.message}`);
  }
}

function isMounted(path: string): boolean {
  try {
    execFileSync('mountpoint', ['-q', path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const cleanups: (() => void)[] = [];

// Registered when a test file imports this helper (collection time): undoes everything the file mounted, in
// reverse order, whether its tests passed or failed.
afterAll(() => {
  const errors: string[] = [];
  while (cleanups.length > 0) {
    try {
      cleanups.pop()?.();
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(`cleanup of test mounts: ${errors.join('; ')}`);
});

function registerCleanup(fn: () => void): void {
  cleanups.push(fn);
}

function unmountPath(path: string): void {
  for (let attempt = 0; isMounted(path); attempt++) {
    try {
      // A FUSE daemon exits when its mount goes; -l detaches one still busy (a test's open handle) rather than leak it.
      run('umount', attempt === 0 ? [path] : ['-l', path]);
    } catch (error) {
      if (attempt >= 1) throw error;
    }
  }
}

function makeImage(kind: FsKind, image: string): void {
  if (kind === 'sshfs') return; // a folder behind the sshd, no image
  run('truncate', ['-s', SIZES[kind], image]);
  switch (kind) {
    case 'exfat':
      run('mkfs.exfat', [image]);
      break;
    case 'vfat':
      run('mkfs.vfat', ['-F', '32', image]);
      break;
    case 'ntfs':
      run('mkfs.ntfs', ['-F', '-Q', image]);
      break;
    case 'xfs':
      run('mkfs.xfs', ['-q', image]);
      break;
    case 'btrfs':
      run('mkfs.btrfs', ['-q', image]);
      break;
  }
}

/** Make a fresh file system of this kind and mount it; it is unmounted (and its image removed) in afterAll. */
export function mountFs(kind: FsKind, opts: MountOptions = {}): Mounted {
  if (!canMount) throw new Error(SKIP_REASON);
  const work = mkdtempSync(join(tmpdir(), `fs-mount-${kind}-`));
  const path = opts.at ?? join(work, 'mnt');
  const image = join(work, 'image');
  const remote = join(work, 'remote');
  if (opts.at === undefined) mkdirSync(path);
  let loop: string | undefined;
  const detach = (): void => {
    if (loop) run('losetup', ['-d', loop]);
    loop = undefined;
  };
  const unmount = (): void => {
    unmountPath(path);
    detach();
  };
  registerCleanup(() => {
    try {
      unmount();
    } finally {
      if (!isMounted(path)) rmSync(work, { recursive: true, force: true });
    }
  });

  const mount = (o: MountOptions): void => {
    const env = { ...process.env, TZ: o.tz ?? 'UTC' };
    switch (kind) {
      case 'exfat':
        // exfat-fuse wants a block device: attach the image to a loop device first.
        loop ??= run('losetup', ['-f', '--show', image]).trim();
        run('mount.exfat-fuse', ['-o', 'uid=0,gid=0', loop, path], { env });
        break;
      case 'vfat':
        // fusefat: FAT32 in user space (the kernel here has no vfat); it prints debug lines, hence the ignore.
        run('fusefat', ['-o', 'rw+', image, path], { env, stdio: 'ignore' });
        break;
      case 'ntfs':
        run('ntfs-3g', [image, path], { env });
        break;
      case 'sshfs':
        mkdirSync(remote, { recursive: true });
        run(
          'sshfs',
          [
            '-o',
            [
              `IdentityFile=${SSHD_DIR}/client_key`,
              `Port=${SSHD_PORT}`,
              'StrictHostKeyChecking=no',
              'UserKnownHostsFile=/dev/null',
              'BatchMode=yes',
              'LogLevel=ERROR',
            ].join(','),
            `root@127.0.0.1:${remote}`,
            path,
          ],
          { env },
        );
        break;
      case 'xfs':
      case 'btrfs':
        run('mount', ['-t', kind, '-o', o.options ? `loop,${o.options}` : 'loop', image, path], { env });
        break;
    }
    if (!isMounted(path)) throw new Error(`${kind} is not mounted at ${path} although its mount command succeeded`);
  };

  makeImage(kind, image);
  mount(opts);
  return {
    kind,
    path,
    remount(o: MountOptions = {}): void {
      unmountPath(path);
      mount(o);
    },
    unmount,
  };
}
