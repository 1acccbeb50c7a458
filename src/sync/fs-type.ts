/** Which file system holds a folder, from the mount table (or statfs), without writing anything. */
import { closeSync, constants, lstatSync, openSync, readFileSync, readSync, realpathSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface MountInfo {
  /** The type as the kernel reports it ("ext4", "fuseblk", "fuse.sshfs"), or what sniffing the device found. */
  type: string;
  mountPoint: string;
  source: string;
}

/** "\040" and friends in /proc/self/mountinfo fields. */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount holding `path` (longest mount point that contains it; the last one mounted wins). Linux only. */
export function parseMountInfo(text: string, path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = unescapeMount(left[4] ?? '');
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (!inside || (best && mountPoint.length < best.mountPoint.length)) continue;
    best = { type: right[0] ?? 'unknown', source: unescapeMount(right[1] ?? ''), mountPoint };
  }
  return best;
}

/** Name the file system in a FUSE block device or image by its boot sector (fuseblk says nothing more). */
export function sniffBootSector(sector: Buffer): string | undefined {
  const at = (offset: number, text: string): boolean => sector.subarray(offset, offset + text.length).toString('latin1') === text;
  if (at(3, 'EXFAT   ')) return 'exfat';
  if (at(3, 'NTFS    ')) return 'ntfs';
  if (at(82, 'FAT32   ') || at(54, 'FAT16   ') || at(54, 'FAT12   ') || at(54, 'FAT     ')) return 'vfat';
  return undefined;
}

function sniffSource(source: string): string | undefined {
  if (!source.startsWith('/')) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(source, constants.O_RDONLY | constants.O_NONBLOCK);
    const sector = Buffer.alloc(512);
    readSync(fd, sector, 0, 512, 0);
    return sniffBootSector(sector);
  } catch {
    return undefined; // not readable by this user: the generic type stands
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** statfs f_type magic numbers, where /proc/self/mountinfo is not available. */
const STATFS_TYPES: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0xf2f52010: 'f2fs',
  0x01021994: 'tmpfs',
  0x4d44: 'vfat',
  0x2011bab0: 'exfat',
  0x5346544e: 'ntfs',
  0x7366746e: 'ntfs',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0xfe534d42: 'cifs',
  0x482b: 'hfs',
  0x65735546: 'fuse',
};

/** Local disk file systems (as named above): where reading ahead and freeing beside the pass are worth it. */
export const LOCAL_DISKS: ReadonlySet<string> = new Set(['ext4', 'xfs', 'btrfs', 'f2fs']);
/** Per device: is it one of LOCAL_DISKS (one statfs per device a process asks about). */
const localByDevice = new Map<number, boolean>();

/** Whether the open descriptor `fd`, on device `dev` (its fstat), is on one of LOCAL_DISKS (Linux: /proc). */
export function onLocalDisk(fd: number, device: number | bigint): boolean {
  const dev = Number(device);
  let local = localByDevice.get(dev);
  if (local === undefined) {
    local = LOCAL_DISKS.has(statfsType(`/proc/self/fd/${fd}`) ?? '');
    localByDevice.set(dev, local);
  }
  return local;
}

/** The type statfs reports for `path` (its f_type, named as above), or undefined when unknown or unreadable. */
export function statfsType(path: string): string | undefined {
  try {
    return STATFS_TYPES[Number(statfsSync(path).type)];
  } catch {
    return undefined;
  }
}

/** The file-system type holding `dir` (an existing folder), and whether `dir` is that mount's root; no writes. */
export function fileSystemOf(dir: string): { type: string; mountRoot: boolean } {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    real = resolve(dir);
  }
  if (process.platform === 'linux') {
    try {
      const mount = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'), real);
      if (mount) {
        const generic = mount.type === 'fuseblk' || mount.type === 'fuse';
        return { type: (generic ? sniffSource(mount.source) : undefined) ?? mount.type, mountRoot: mount.mountPoint === real };
      }
    } catch {
      // no /proc: fall through to statfs
    }
  }
  if (process.platform === 'win32') return { type: 'ntfs', mountRoot: false };
  if (process.platform === 'darwin') return { type: 'apfs', mountRoot: false };
  return { type: statfsType(real) ?? 'unknown', mountRoot: false };
}

export function fileSystemType(dir: string): string {
  return fileSystemOf(dir).type;
}

/** The nearest existing folder at or above `path` (a replica that does not exist yet lives on its parent's file system). */
export function existingAncestor(path: string): string {
  let at = resolve(path);
  for (;;) {
    try {
      if (lstatSync(at).isDirectory()) return at;
    } catch (error) {
      // Only a missing path is climbed past; a dead mount (ENOTCONN) must not send the probe to its parent.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return at;
    }
    const up = dirname(at);
    if (up === at) return at;
    at = up;
  }
}
