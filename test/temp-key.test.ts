// A pass holds its temporaries' key (src/sync/temp.ts holdTempKey): the state folder is looked up once per pass,
// not for every temporary, and the next pass looks it up again.
import { afterEach, describe, expect, it } from 'vitest';
import { holdTempKey, isTempName, tempName } from '../src/sync/temp.js';
import { tempDir } from './_tree.js';

const saved = process.env['FOLDER_SYNC_STATE_DIR'];
const useState = (dir: string): void => {
  process.env['FOLDER_SYNC_STATE_DIR'] = dir;
};
afterEach(() => {
  if (saved === undefined) delete process.env['FOLDER_SYNC_STATE_DIR'];
  else process.env['FOLDER_SYNC_STATE_DIR'] = saved;
});

/** Does `name` verify under the key of state folder `dir` (looked up afresh, nothing held)? */
function verifiesUnder(dir: string, name: string): boolean {
  useState(dir);
  return isTempName(name);
}

describe("a pass's temporaries' key", () => {
  it('is the state folder found when the pass began, for the whole pass; the next pass looks again', () => {
    const a = tempDir('fs-key-a-');
    const b = tempDir('fs-key-b-');
    useState(a);
    const release = holdTempKey();
    const first = tempName();
    useState(b); // mid-pass: the pass goes on with the key it began with
    const second = tempName();
    release();
    expect(verifiesUnder(a, first)).toBe(true);
    expect(verifiesUnder(a, second)).toBe(true);
    expect(verifiesUnder(b, second)).toBe(false);
    // Not held: each name is tagged by the folder in force.
    useState(b);
    const loose = tempName();
    expect(verifiesUnder(b, loose)).toBe(true);
    expect(verifiesUnder(a, loose)).toBe(false);
    // The next pass, with folder b from the start, uses b's key (not the one held before).
    useState(b);
    const again = holdTempKey();
    const next = tempName();
    again();
    again(); // a second release changes nothing
    expect(verifiesUnder(b, next)).toBe(true);
    expect(verifiesUnder(a, next)).toBe(false);
  });
});
