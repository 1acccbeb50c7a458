/** How `folder-sync versions` shows a versions folder and the kept versions of one path (text and JSON). */
import { formatBytes } from '../progress.js';
import { formatTime } from '../schedule/status.js';
import { measurePass, type Catalog, type Measure, type Version } from './catalog.js';

export interface PassSummary extends Measure {
  pass: string;
  startedAt: string;
}

export function summarisePasses(catalog: Catalog): PassSummary[] {
  return catalog.passes.map((p) => ({ pass: p.name, startedAt: new Date(p.time).toISOString(), ...measurePass(p) }));
}

export function formatPassTable(catalog: Catalog, passes: readonly PassSummary[]): string {
  const out = [`versions folder ${catalog.dir}${catalog.store ? ` (replica ${catalog.store.replica})` : ''}`];
  if (passes.length === 0) {
    out.push('no pass folders yet (a pass with --versions makes one when it removes or overwrites something)');
    return `${out.join('\n')}\n`;
  }
  const width = Math.max(...passes.map((p) => String(p.entries).length), 7);
  out.push(`${'pass (UTC start)'.padEnd(24)}${'entries'.padStart(width)}  size`);
  for (const p of passes) out.push(`${p.pass.padEnd(24)}${String(p.entries).padStart(width)}  ${formatBytes(p.bytes)}`);
  const entries = passes.reduce((n, p) => n + p.entries, 0);
  const bytes = passes.reduce((n, p) => n + p.bytes, 0);
  out.push(`${passes.length} pass folder${passes.length === 1 ? '' : 's'}, ${entries} entries, ${formatBytes(bytes)}`);
  return `${out.join('\n')}\n`;
}

/** One line per kept version, oldest first: pass, why it was kept, what it is, size, mode, modification time. */
export function formatVersions(rel: string, versions: readonly Version[], below: readonly string[]): string {
  const out = [`kept versions of ${JSON.stringify(rel === '' ? '.' : rel)}: ${versions.length}`];
  for (const v of versions) {
    const what =
      v.kind === 'dir'
        ? `folder, ${v.measure?.entries ?? 0} entries, ${formatBytes(v.measure?.bytes ?? 0)}`
        : v.kind === 'symlink'
          ? `symlink -> ${JSON.stringify(v.target)}`
          : v.kind === 'file'
            ? `file, ${formatBytes(v.size)}`
            : v.kind;
    out.push(`  ${v.pass.name}  ${v.action}  ${what}  mode ${(v.mode & 0o7777).toString(8).padStart(3, '0')}  modified ${formatTime(v.mtimeMs)}`);
  }
  if (versions.length === 0 && below.length > 0) {
    out.push(`  not kept as a whole; kept inside it: ${below.length} path${below.length === 1 ? '' : 's'}, e.g. ${JSON.stringify(below[0])}`);
  }
  return `${out.join('\n')}\n`;
}

export function versionsJson(rel: string, versions: readonly Version[]): object {
  return {
    path: rel,
    versions: versions.map((v) => ({
      pass: v.pass.name,
      startedAt: new Date(v.pass.time).toISOString(),
      action: v.action,
      kind: v.kind,
      path: v.path,
      size: v.kind === 'dir' ? v.measure?.bytes : v.size,
      entries: v.measure?.entries,
      mode: (v.mode & 0o7777).toString(8).padStart(3, '0'),
      mtime: new Date(v.mtimeMs).toISOString(),
      target: v.target,
    })),
  };
}
