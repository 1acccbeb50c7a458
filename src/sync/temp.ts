import { randomBytes } from 'node:crypto';

/** Temporary files are written beside their target under this prefix and renamed into place when complete. */
export const TEMP_PREFIX = '.folder-sync-partial-';
const TEMP_PATTERN = /^\.folder-sync-partial-[0-9a-f]{16}$/;

/** A short name (well under 255 bytes whatever the target's length), unique enough for O_EXCL creation. */
export function tempName(): string {
  return TEMP_PREFIX + randomBytes(8).toString('hex');
}

/** True for a name this tool creates as a temporary; a leftover one in the replica is removed by the next pass. */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && TEMP_PATTERN.test(name);
}
