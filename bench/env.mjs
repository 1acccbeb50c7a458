// The environment the bench runs every timed command with (session 9): what cron gives a scheduled pass, which
// is how folder-sync mostly runs, and nothing else from the shell that started the bench.
//
// Why: a variable meant for something else can cost one tool alone. This VM's shell sets NODE_EXTRA_CA_CERTS
// (a 220 KB certificate bundle), and every Node start parses it before any JavaScript runs: `node -e 0` took
// 50 ms with it and 20 ms without (fifteen runs each), and a pass of two files 92 against 63 ms. rsync, tar,
// cp and find never read it. A crontab entry written by `folder-sync schedule` runs with cron's few variables,
// so the bench measures that case, for every tool alike. `--keep-env` runs with the full environment instead.

/** Carried over when set: cron's own (HOME, LOGNAME, PATH, SHELL), the locale, and folder-sync's switches. */
const KEPT = ['HOME', 'LOGNAME', 'USER', 'PATH', 'LANG', 'LC_ALL', 'TMPDIR'];

export function cronEnv(from = process.env) {
  const env = { SHELL: '/bin/sh', PATH: from.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(from)) {
    if (value !== undefined && (KEPT.includes(key) || key.startsWith('FOLDER_SYNC_'))) env[key] = value;
  }
  return env;
}

/** One line for the bench's header: which environment, and what of the shell's was left out that a tool reads. */
export function describeEnv(keepEnv, from = process.env) {
  if (keepEnv) return 'environment: the shell’s, in full (--keep-env)';
  const kept = cronEnv(from);
  const left = Object.keys(from).filter((k) => !(k in kept));
  const node = left.filter((k) => k.startsWith('NODE_') || k === 'UV_THREADPOOL_SIZE');
  return (
    `environment: cron's, as a scheduled pass runs (${Object.keys(kept).sort().join(', ')}); ` +
    `${left.length} variable(s) of the shell's left out${node.length ? `, among them ${node.join(', ')}` : ''} (--keep-env keeps them)`
  );
}
