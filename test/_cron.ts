/**
 * Test helper: what Vixie cron (Debian's cron, macOS cron) does to the command part of a crontab line before
 * `/bin/sh -c` sees it (do_command.c): up to the first unescaped `%` is the command, with `\%` turned into `%`
 * and every other backslash kept; the rest is the command's stdin. Also: cron's bare environment.
 */
export function cronCommandAsRun(command: string): { command: string; stdin: string } {
  let out = '';
  let escaped = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] as string;
    if (escaped) {
      out += ch === '%' ? '%' : `\\${ch}`;
      escaped = false;
      continue;
    }
    if (ch === '\\') {
      escaped = true;
      continue;
    }
    if (ch === '%') return { command: out, stdin: command.slice(i + 1) };
    out += ch;
  }
  if (escaped) out += '\\';
  return { command: out, stdin: '' };
}

/** The environment cron gives a job (Debian: HOME, LOGNAME, PATH, SHELL from the passwd entry; nothing else). */
export function cronEnvironment(home: string, user: string): Record<string, string> {
  return { HOME: home, LOGNAME: user, USER: user, PATH: '/usr/bin:/bin', SHELL: '/bin/sh' };
}
