/**
 * Alerts end to end with the built CLI and a monitoring server on 127.0.0.1: the pings of passes that succeed,
 * fail (an unreadable entry, as the unprivileged user), are refused or find the replica busy; a hanging server
 * and a failing one (retries, WARN lines, the exit code unchanged); hooks (environment, stdin, output in the log,
 * timeout); `run`; and that the URL's token is never printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdLock, repoCli, runCli, runSync, userTempDir } from './_cli.js';
import { pingServer, type Ping } from './_ping.js';
import { buildTree, compareTrees, file, giveToTestUser, snapshotTree, tempDir } from './_tree.js';

const server = await pingServer();

/** A check URL of its own per test: a long random token, as healthchecks.io gives. */
function check(): { url: string; token: string; pings: () => Ping[]; paths: () => string[] } {
  const token = randomBytes(16).toString('hex');
  const pings = (): Ping[] => server.pings.filter((p) => p.path.startsWith(`/ping/${token}`));
  return { url: `${server.origin}/ping/${token}`, token, pings, paths: () => pings().map((p) => `${p.method} ${p.path.replace(token, 'T')}`) };
}

function folders(spec: Parameters<typeof buildTree>[1] = { 'a.txt': 'alpha', sub: { 'b.txt': 'beta' } }): { src: string; rep: string; log: string } {
  const base = tempDir();
  mkdirSync(join(base, 'src'));
  return { src: buildTree(join(base, 'src'), spec), rep: join(base, 'rep'), log: join(base, 'logs', 'pass.log') };
}

const children: ChildProcess[] = [];
afterEach(() => {
  server.mode = 'ok';
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('pings of sync-once (healthchecks protocol)', () => {
  it('a complete pass: /start, then the URL itself with the summary as the body; the token is never printed', async () => {
    const c = check();
    const f = folders();
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--notify-url', c.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(c.paths()).toEqual(['POST /ping/T/start', 'POST /ping/T']);
    const body = c.pings()[1]?.body ?? '';
    expect(body).toMatch(/^folder-sync pass ok \(exit 0\)\n/);
    expect(body).toContain(`replica: ${f.rep}\n`);
    expect(body).toMatch(/\nchecked 3, created 4, updated 0, removed 0, failed 0, skipped 0, bytes 9\n/);
    expect(body).not.toContain('alpha'); // never file contents
    const log = readFileSync(f.log, 'utf8');
    expect(log).toMatch(new RegExp(`INFO notification sent to ${server.origin}/…${c.token.slice(-4)}: exit 0 \\(HTTP 200\\)\\n`));
    for (const text of [log, r.stdout, r.stderr]) expect(text).not.toContain(c.token.slice(0, 12));
    expect(compareTrees(f.src, f.rep)).toEqual([]);
  });

  it('a pass with an unreadable entry (as the unprivileged user): /1, the error line in the body', async () => {
    const c = check();
    const base = userTempDir();
    mkdirSync(join(base, 'src'));
    const src = buildTree(join(base, 'src'), { ok: 'ok', secret: file('hidden', { mode: 0o000 }) });
    giveToTestUser(base);
    const r = await runSync(src, join(base, 'rep'), ['--log', join(base, 'pass.log'), '--notify-url', c.url], { asUser: true });
    expect(r.code, r.stderr).toBe(1);
    expect(c.paths()).toEqual(['POST /ping/T/start', 'POST /ping/T/1']);
    const body = c.pings()[1]?.body ?? '';
    expect(body).toMatch(/^folder-sync pass partial \(exit 1\)/);
    expect(body).toMatch(/failed 1,/);
    expect(body).toContain('first warnings and errors:\n  failed file "secret": permission denied (EACCES)\n');
    expect(body).not.toContain('hidden');
  });

  it('a refused pass: an empty source over a full replica is /2, a missing source too; nothing changed', async () => {
    const c = check();
    const f = folders({});
    mkdirSync(f.rep);
    buildTree(f.rep, { keep: 'kept' });
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--notify-url', c.url]);
    expect(r.code).toBe(2);
    expect(c.paths()).toEqual(['POST /ping/T/start', 'POST /ping/T/2']);
    expect(c.pings()[1]?.body).toMatch(/^folder-sync pass refused \(exit 2\)[\s\S]*\nmessage: source .* is empty but the replica .* is not/);
    expect(readFileSync(join(f.rep, 'keep'), 'utf8')).toBe('kept');
    const gone = await runSync(join(f.src, 'gone'), f.rep, ['--log', f.log, '--notify-url', c.url]);
    expect(gone.code).toBe(2);
    expect(c.paths().slice(2)).toEqual(['POST /ping/T/start', 'POST /ping/T/2']);
    expect(c.pings()[3]?.body).toMatch(/message: source folder does not exist/);
  });

  it('a busy replica (another process holds its lock): /75, told apart from a refusal', async () => {
    const c = check();
    const f = folders();
    mkdirSync(f.rep);
    const state = tempDir('fs-state-');
    await holdLock(realpathSync(f.rep), state);
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--notify-url', c.url], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code).toBe(75);
    expect(c.paths()).toEqual(['POST /ping/T/start', 'POST /ping/T/75']);
    expect(c.pings()[1]?.body).toMatch(/^folder-sync pass busy \(exit 75\)[\s\S]*message: another pass is running/);
  });

  it('a server that never answers: each ping tried 3 times under the timeout, WARN lines, the exit code and replica unchanged', async () => {
    const c = check();
    const f = folders();
    server.mode = 'hang';
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--notify-url', c.url], {
      env: { FOLDER_SYNC_NOTIFY_TIMEOUT_MS: '300', FOLDER_SYNC_NOTIFY_BACKOFF_MS: '50' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(f.src, f.rep)).toEqual([]);
    expect(c.paths()).toEqual([...Array(3).fill('POST /ping/T/start'), ...Array(3).fill('POST /ping/T')]);
    const warns = readFileSync(f.log, 'utf8')
      .split('\n')
      .filter((l) => / WARN /.test(l));
    expect(warns).toEqual([
      expect.stringMatching(
        new RegExp(
          `WARN notification failed: ${server.origin}/…${c.token.slice(-4)}: start: no answer within 0\\.3s after 3 tries; the pass goes on$`,
        ),
      ),
      expect.stringMatching(/WARN notification failed: .*: exit 0: no answer within 0\.3s after 3 tries; the pass's exit code stays 0$/),
    ]);
    expect(r.stderr).toContain('warning: notification failed:');
    expect(r.stderr).not.toContain(c.token.slice(0, 12));
  });

  it('a server answering 500: retried, WARN logged, exit code unchanged', async () => {
    const c = check();
    const f = folders({});
    mkdirSync(f.rep);
    buildTree(f.rep, { keep: 'kept' });
    server.mode = '500';
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--notify-url', c.url], { env: { FOLDER_SYNC_NOTIFY_BACKOFF_MS: '50' } });
    expect(r.code).toBe(2); // the refusal's own code, not the notification's
    expect(c.paths()).toEqual([...Array(3).fill('POST /ping/T/start'), ...Array(3).fill('POST /ping/T/2')]);
    expect(readFileSync(f.log, 'utf8')).toMatch(/WARN notification failed: .*: exit 2: HTTP 500 after 3 tries; the pass's exit code stays 2\n/);
  });

  it('a log file inside the source is refused as ever, and a failing server leaves the source untouched too', async () => {
    const c = check();
    const f = folders();
    server.mode = '500';
    const before = snapshotTree(f.src);
    const r = await runSync(f.src, f.rep, ['--log', join(f.src, 'pass.log'), '--notify-url', c.url], {
      env: { FOLDER_SYNC_NOTIFY_BACKOFF_MS: '50' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/warning: notification failed: .*: start: HTTP 500 after 3 tries/);
    expect(compareTrees(before, snapshotTree(f.src))).toEqual([]);
    expect(existsSync(f.rep)).toBe(false);
    expect(c.paths()).toEqual([...Array(3).fill('POST /ping/T/start'), ...Array(3).fill('POST /ping/T/2')]);
  });

  it('a bad --notify-url: exit 2, one line without the token, nothing done', async () => {
    const f = folders();
    const r = await runSync(f.src, f.rep, ['--notify-url', 'hc-ping.com/0123456789abcdef0123']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: --notify-url needs an http:\/\/ or https:\/\/ URL, got "…0123" \(see "folder-sync --help"\)\n$/);
    expect(r.stderr).not.toContain('0123456789');
    expect(existsSync(f.rep)).toBe(false);
  });
});

describe('hooks', () => {
  it('--on-success gets the outcome in FOLDER_SYNC_* variables and the summary on stdin; its output lands in the log', async () => {
    const f = folders();
    const out = join(dirname(f.log), '..', 'hook.env');
    const hook = `env | grep '^FOLDER_SYNC_' | sort > '${out}'; cat > '${out}.stdin'; echo "to stdout"; echo "to stderr" >&2`;
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--on-success', hook, '--on-failure', 'echo WRONG HOOK']);
    expect(r.code, r.stderr).toBe(0);
    const env = Object.fromEntries(
      readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => /^FOLDER_SYNC_[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject({
      FOLDER_SYNC_EVENT: 'success',
      FOLDER_SYNC_RESULT: 'ok',
      FOLDER_SYNC_EXIT_CODE: '0',
      FOLDER_SYNC_CREATED: '4',
      FOLDER_SYNC_UPDATED: '0',
      FOLDER_SYNC_REMOVED: '0',
      FOLDER_SYNC_FAILED: '0',
      FOLDER_SYNC_BYTES: '9',
      FOLDER_SYNC_SOURCE: f.src,
      FOLDER_SYNC_REPLICA: f.rep,
      FOLDER_SYNC_LOG: f.log,
      FOLDER_SYNC_JOB: '',
    });
    const json = JSON.parse(env['FOLDER_SYNC_SUMMARY_JSON'] ?? '') as { result: string; counts: { created: number } };
    expect([json.result, json.counts.created]).toEqual(['ok', 4]);
    expect(readFileSync(`${out}.stdin`, 'utf8')).toMatch(/^folder-sync pass ok \(exit 0\)\nsource: /);
    const log = readFileSync(f.log, 'utf8');
    expect(log).toMatch(/ INFO hook on-success: to stdout\n.* INFO hook on-success: to stderr\n.* INFO hook on-success finished: exit 0\n/);
    expect(log).not.toContain('WRONG HOOK');
  });

  it('--on-failure runs after a refused pass; a failing hook is a WARN and the exit code stays', async () => {
    const f = folders();
    const r = await runSync(join(f.src, 'gone'), f.rep, [
      '--log',
      f.log,
      '--on-failure',
      'echo "failed with $FOLDER_SYNC_EXIT_CODE: $FOLDER_SYNC_MESSAGE"; exit 3',
    ]);
    expect(r.code).toBe(2);
    const log = readFileSync(f.log, 'utf8');
    expect(log).toMatch(/ INFO hook on-failure: failed with 2: source folder does not exist: .*gone\n/);
    expect(log).toMatch(/ WARN hook on-failure failed: exit 3; the pass's exit code stays 2\n/);
  });

  it('a hook that outlives its timeout is stopped, with whatever it started; the pass exits as it would have', async () => {
    const f = folders();
    const marker = join(dirname(f.log), '..', 'after-sleep');
    const r = await runSync(f.src, f.rep, ['--log', f.log, '--on-success', `echo started; sleep 30; touch '${marker}'`], {
      env: { FOLDER_SYNC_HOOK_TIMEOUT_MS: '500' },
      timeoutMs: 20_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const log = readFileSync(f.log, 'utf8');
    expect(log).toMatch(/ INFO hook on-success: started\n.* WARN hook on-success failed: timed out after 0\.5s and was stopped; /);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('run', () => {
  it('pings around each pass of a foreground run, and a refused pass is /2', async () => {
    const c = check();
    const f = folders();
    const child = spawn(process.execPath, [repoCli, 'run', f.src, f.rep, '1', 'hour', f.log, '--notify-url', c.url, '--quiet'], {
      env: { ...process.env, FOLDER_SYNC_STATE_DIR: tempDir('fs-state-') },
      stdio: 'ignore',
    });
    children.push(child);
    const before = server.pings.length;
    await server.waitFor(before + 2); // the first pass's start and end ping
    while (c.pings().length < 2) await server.waitFor(server.pings.length + 1);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (n) => resolve(n)));
    expect(code).toBe(0);
    expect(c.paths()).toEqual(['POST /ping/T/start', 'POST /ping/T']);
    expect(c.pings()[1]?.body).toMatch(/^folder-sync pass ok \(exit 0\)[\s\S]*created 4,/);
    expect(readFileSync(f.log, 'utf8')).not.toContain(c.token.slice(0, 12));

    const refused = await runCli(['run', join(f.src, 'gone'), f.rep, '1', 'hour', f.log, '--notify-url', c.url], {
      env: { FOLDER_SYNC_STATE_DIR: tempDir('fs-state-') },
    });
    expect(refused.code).toBe(2);
    expect(c.paths().slice(2)).toEqual(['POST /ping/T/2']);
  });
});
