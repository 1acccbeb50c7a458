import { randomBytes } from 'node:crypto';

/** Temporary files are written beside their target under this prefix and renamed into place when complete. */
export const TEMP_PREFIX = '.folder-sync-partial-';
const TEMP_PATTERN = /^\.folder-sync-partial-[0-9a-f]{16}$/;
const processPart = randomBytes(4).toString('hex');
let counter = randomBytes(4).readUInt32LE(0);

/** A short name (well under 255 bytes whatever the target's length), unique enough for O_EXCL creation. */
export function tempName(): string {
  // A random half per process and a counter: unique within a pass without a crypto call per file.
  counter = (counter + 1) >>> 0;
  return TEMP_PREFIX + processPart + counter.toString(16).padStart(8, '0');
}

/** True for a name this tool creates as a temporary; a leftover one in the replica is removed by the next pass. */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && TEMP_PATTERN.test(name);
}
