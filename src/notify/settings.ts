/**
 * The notification settings of a pass (`--notify-url`, `--on-success`, `--on-failure`) and, for a scheduled job,
 * their file in the state folder (`<state>/jobs/<name>.notify.json`, mode 0600): the crontab line and the
 * Task Scheduler entry only name the job, so a token in the URL or a hook never sits in the scheduler's table.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { stateDir } from '../state.js';
import { checkNotifyUrl, maskUrl, maskUrls } from './ping.js';

export interface NotifySettings {
  url?: string;
  onSuccess?: string;
  onFailure?: string;
}

function hookArg(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (text.trim() === '') throw new UsageError(`${flag} needs a command`);
  return text;
}

/** The notify flags of sync-once, schedule and run, checked; undefined when none is given. */
export function notifySettingsFromArgs(args: Record<string, unknown>): NotifySettings | undefined {
  const url = args['notify-url'] === undefined ? undefined : checkNotifyUrl(String(args['notify-url']));
  const onSuccess = hookArg(args['on-success'], '--on-success');
  const onFailure = hookArg(args['on-failure'], '--on-failure');
  if (url === undefined && onSuccess === undefined && onFailure === undefined) return undefined;
  return { ...(url ? { url } : {}), ...(onSuccess ? { onSuccess } : {}), ...(onFailure ? { onFailure } : {}) };
}

/** Flags given on the command line win over the job's stored ones, one setting at a time. */
export function mergeSettings(stored: NotifySettings | undefined, given: NotifySettings | undefined): NotifySettings | undefined {
  if (!stored) return given;
  if (!given) return stored;
  return { ...stored, ...given };
}

export function notifyPath(name: string, dir = stateDir()): string {
  return join(dir, 'jobs', `${name}.notify.json`);
}

/** Store (or, with undefined, remove) a job's settings: a fresh 0600 file renamed into place. */
export function writeJobNotify(name: string, settings: NotifySettings | undefined, dir = stateDir()): void {
  const path = notifyPath(name, dir);
  if (!settings) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(join(dir, 'jobs'), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ version: 1, ...settings }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600); // whatever the umask did
  renameSync(temp, path);
}

/** A job's stored settings; undefined when it has none or the file cannot be read. */
export function readJobNotify(name: string, dir = stateDir()): NotifySettings | undefined {
  try {
    const data = JSON.parse(readFileSync(notifyPath(name, dir), 'utf8')) as NotifySettings & { version?: number };
    if (data?.version !== 1) return undefined;
    const out: NotifySettings = {};
    if (typeof data.url === 'string') out.url = data.url;
    if (typeof data.onSuccess === 'string') out.onSuccess = data.onSuccess;
    if (typeof data.onFailure === 'string') out.onFailure = data.onFailure;
    return out.url || out.onSuccess || out.onFailure ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A hook for people: its first word only (`mail …`), since the rest may hold a token, an address or a password
 * that is no URL; a first word that is a URL is masked too.
 */
export function maskHook(command: string): string {
  const words = command.trim().split(/\s+/);
  return `${maskUrls(words[0] ?? '')}${words.length > 1 ? ' …' : ''}`;
}

/** The settings for people (`schedule`, `list`): "https://hc-ping.com/…9f2a, on-failure: mail …". */
export function describeNotify(s: NotifySettings): string {
  return formatMasked(maskedSettings(s));
}

/** Settings already masked (`list --json`'s `notify`) on one line. */
export function formatMasked(m: NotifySettings): string {
  const parts: string[] = [];
  if (m.url) parts.push(m.url);
  if (m.onFailure) parts.push(`on-failure: ${m.onFailure}`);
  if (m.onSuccess) parts.push(`on-success: ${m.onSuccess}`);
  return parts.join(', ');
}

/** The same, as an object for `list --json`. */
export function maskedSettings(s: NotifySettings): NotifySettings {
  return {
    ...(s.url ? { url: maskUrl(s.url) } : {}),
    ...(s.onSuccess ? { onSuccess: maskHook(s.onSuccess) } : {}),
    ...(s.onFailure ? { onFailure: maskHook(s.onFailure) } : {}),
  };
}
