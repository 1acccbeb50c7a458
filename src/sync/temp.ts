import * as crypto from 'node:crypto';
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { stateDir } from '../state.js';

/**
 * Temporary files are written beside their target as `.folder-sync-partial-<nonce><tag>` and renamed into place
 * when complete. The tag is an HMAC of the nonce under a secret key kept in the user's state folder (mode 0600),
 * so only this user's own passes make names that verify: a leftover of a killed pass is recognised and purged
 * quietly, while any other entry, whatever its name, is a user entry: mirrored, removed, counted and logged.
 */
export const TEMP_PREFIX = '.folder-sync-partial-';
const NONCE_HEX = 16;
const TAG_HEX = 16;
const TEMP_PATTERN = new RegExp(`^\\.folder-sync-partial-[0-9a-f]{${NONCE_HEX + TAG_HEX}}$`);
const KEY_FILE = 'temp-key';

const processPart = randomBytes(4).toString('hex');
let counter = randomBytes(4).readUInt32LE(0);
let key: Buffer | undefined;
let keyDir: string | undefined;

/**
 * While a pass holds the key (`holdTempKey`), the state folder is not looked up again for every temporary (three
 * environment reads and two joins: about half of a name's cost). A helper thread's environment is a copy taken
 * when it started, so there the key is always held.
 */
let held = isMainThread ? 0 : 1;
let heldKey: Buffer | undefined;

/** Keep using the key found first from now on, until the returned function is called (a pass, start to end). */
export function holdTempKey(): () => void {
  held++;
  heldKey = undefined; // looked up once more, for this pass
  let done = false;
  return () => {
    if (done) return;
    done = true;
    held--;
  };
}

/**
 * The key of the current state folder: read, or created (O_EXCL, 0600) on first use. A state folder that cannot
 * hold it gets a key for this process only: leftovers of other passes are then user entries (removed and logged).
 */
function secret(): Buffer {
  if (held > 0 && heldKey) return heldKey;
  const dir = stateDir();
  if (key && keyDir === dir) return held > 0 ? (heldKey = key) : key;
  const path = join(dir, KEY_FILE);
  let found: Buffer | undefined;
  try {
    found = readFileSync(path);
  } catch {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fresh = randomBytes(32);
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, fresh);
      } finally {
        closeSync(fd);
      }
      found = fresh;
    } catch {
      try {
        found = readFileSync(path); // another process created it first
      } catch {
        found = undefined;
      }
    }
  }
  key = found && found.length >= 16 ? found : randomBytes(32);
  keyDir = dir;
  if (held > 0) heldKey = key;
  return key;
}

/**
 * The tag of a nonce: SHA-256 of the key and the nonce (one-shot `crypto.hash`, Node >= 20.12; a keyed hash of a
 * fixed-length message, which length extension cannot forge). An HMAC costs four times as much and was 3% of an
 * initial copy of 100k small files. Names tagged by the HMAC of earlier versions still verify (`tagsOf`).
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;
let keyHex: string | undefined;
let keyHexOf: Buffer | undefined;

function tagOf(nonce: string): string {
  const k = secret();
  if (!oneShot) return hmacTag(k, nonce);
  if (keyHexOf !== k) keyHex = (keyHexOf = k).toString('hex');
  return oneShot('sha256', keyHex + nonce).slice(0, TAG_HEX);
}

function hmacTag(k: Buffer, nonce: string): string {
  return createHmac('sha256', k).update(nonce).digest('hex').slice(0, TAG_HEX);
}

/** A short name (well under 255 bytes whatever the target's length), unique enough for O_EXCL creation. */
export function tempName(): string {
  return taggedName(TEMP_PREFIX);
}

/** `prefix` + a nonce + its tag: a name only this user's passes can make (temporaries, capability probe folders). */
export function taggedName(prefix: string): string {
  // A random half per process and a counter: unique within a pass without a random call per file.
  counter = (counter + 1) >>> 0;
  const nonce = processPart + counter.toString(16).padStart(8, '0');
  return prefix + nonce + tagOf(nonce);
}

/** True when `name` is `prefix` + a nonce + a tag that verifies under this user's key. */
export function hasOwnTag(prefix: string, name: string): boolean {
  if (!name.startsWith(prefix) || name.length !== prefix.length + NONCE_HEX + TAG_HEX) return false;
  const rest = name.slice(prefix.length);
  if (!/^[0-9a-f]+$/.test(rest)) return false;
  const nonce = rest.slice(0, NONCE_HEX);
  const tag = rest.slice(NONCE_HEX);
  return tag === tagOf(nonce) || tag === hmacTag(secret(), nonce);
}

/** True only for a temporary this user's passes made (its tag verifies); a leftover one is purged by the next pass. */
export function isTempName(name: string): boolean {
  return hasOwnTag(TEMP_PREFIX, name);
}

/** The shape of a temporary's name, whoever made it (tests look for leftovers with it). */
export function looksLikeTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && TEMP_PATTERN.test(name);
}
