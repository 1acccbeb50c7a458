import { defineCommand } from 'citty';
import { ExitCode } from '../errors.js';
import { formatBytes } from '../progress.js';
import { parseAt } from '../versions/names.js';
import { restoreVersion, type KnownFolders } from '../versions/restore.js';

export default defineCommand({
  meta: {
    name: 'restore',
    description:
      'Copy a kept version of <path> (a path in the replica) out of a versions folder to <target>: the newest\n' +
      'one kept at or before --at (default: the newest). Files keep their bytes, mode and modification time;\n' +
      'links are recreated; a folder comes back as the whole tree that was kept. The versions folder is not changed.\n' +
      'Refused: an existing target (unless --force), a target in a replica (the next pass would undo it),\n' +
      'a target in a mirrored source (unless --into-source). See `folder-sync versions` for the kept versions.\n' +
      'Exit codes: 0 restored, 1 some entries inside a folder could not be copied, 2 bad usage or refused.\n' +
      'Examples: folder-sync restore /mnt/backup/Photos.versions 2026/beach.jpg ~/beach.jpg\n' +
      '          folder-sync restore /mnt/backup/Docs.versions reports ~/reports-tuesday --at 2026-11-24\n' +
      '          folder-sync restore /mnt/backup/Docs.versions a.odt ~/Docs/a.odt --into-source --force',
  },
  args: {
    dir: { type: 'positional', required: true, description: 'The versions folder (the --versions of the passes)' },
    path: { type: 'positional', required: true, description: 'The path in the replica, e.g. docs/report.odt' },
    target: { type: 'positional', required: true, description: 'Where to write the restored copy (parent folders are created)' },
    at: {
      type: 'string',
      valueHint: 'time',
      description:
        'Take the newest version kept at or before: a pass folder name, 2026-11-24 18:00 (local), 2026-11-24T17:00:00Z, or a date (its end)',
    },
    force: { type: 'boolean', description: 'Replace an existing target (a folder is replaced as a whole)' },
    'into-source': { type: 'boolean', description: 'Allow a target inside a mirrored source folder' },
  },
  async run({ args }): Promise<number> {
    const at = args.at === undefined ? undefined : parseAt(String(args.at));
    const result = restoreVersion({
      dir: args.dir,
      path: args.path,
      target: args.target,
      at,
      force: Boolean(args.force),
      intoSource: Boolean(args['into-source']),
      known: await scheduledFolders(),
    });
    const v = result.version;
    const what =
      v.kind === 'dir'
        ? `folder, ${result.entries} entries, ${formatBytes(result.bytes)}`
        : v.kind === 'file'
          ? `file, ${formatBytes(result.bytes)}`
          : v.kind;
    process.stdout.write(`restored ${JSON.stringify(result.rel)} from versions ${v.pass.name} to ${result.target} (${what})\n`);
    for (const f of result.failures) process.stderr.write(`error: not restored: ${f}\n`);
    return result.failures.length > 0 ? ExitCode.partial : ExitCode.ok;
  },
});

/** The sources and replicas of the scheduled jobs (a restore never lands in one by surprise); none when unreadable. */
async function scheduledFolders(): Promise<KnownFolders> {
  try {
    const { backendFor, invocationStateDir } = await import('../schedule/scheduler.js');
    const jobs = await backendFor().list(invocationStateDir({}));
    const specs = jobs.flatMap((j) => (j.spec ? [j.spec] : []));
    return { replicas: specs.map((s) => s.replica), sources: specs.map((s) => s.source) };
  } catch {
    return { replicas: [], sources: [] };
  }
}
