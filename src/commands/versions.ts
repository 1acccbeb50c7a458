import { defineCommand } from 'citty';
import { keptBelow, versionsOf } from '../versions/catalog.js';
import { formatPassTable, formatVersions, summarisePasses, versionsJson } from '../versions/report.js';
import { openCatalog, replicaPathOf } from '../versions/restore.js';

export default defineCommand({
  meta: {
    name: 'versions',
    description:
      'Show what a versions folder keeps (see --versions and docs/versions.md): every pass folder with its\n' +
      'entries and size, or, with <path>, the kept versions of that path in the replica (pass, why kept, type,\n' +
      'size, mode, modification time), oldest first. Only reads.\n' +
      'Exit codes: 0 shown, 2 not a versions folder or a bad path.\n' +
      'Examples: folder-sync versions /mnt/backup/Photos.versions\n' +
      '          folder-sync versions /mnt/backup/Photos.versions 2026/beach.jpg --json',
  },
  args: {
    dir: { type: 'positional', required: true, description: 'The versions folder (the --versions of the passes)' },
    path: { type: 'positional', required: false, description: 'A path in the replica, e.g. docs/report.odt' },
    json: { type: 'boolean', description: 'Print JSON for scripts' },
  },
  run({ args }): number {
    const catalog = openCatalog(args.dir);
    const path = args.path as string | undefined;
    if (path === undefined) {
      const passes = summarisePasses(catalog);
      const json = { dir: catalog.dir, replica: catalog.store?.replica, source: catalog.store?.source, passes };
      process.stdout.write(args.json ? `${JSON.stringify(json, null, 2)}\n` : formatPassTable(catalog, passes));
      return 0;
    }
    const rel = replicaPathOf(catalog, path);
    const versions = versionsOf(catalog, rel);
    process.stdout.write(
      args.json ? `${JSON.stringify(versionsJson(rel, versions), null, 2)}\n` : formatVersions(rel, versions, keptBelow(catalog, rel)),
    );
    return 0;
  },
});
