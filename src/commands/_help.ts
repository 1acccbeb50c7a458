import { renderUsage, type ArgsDef, type CommandDef } from 'citty';

/**
 * Colour only for a person at a terminal: never when the output is piped or redirected (a pager, a file, cron
 * mail), never with NO_COLOR set to anything but empty (no-color.org) or TERM=dumb.
 */
export function colourWanted(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env['NO_COLOR'] && env['TERM'] !== 'dumb';
}

/** An argument the user never types: accepted on the command line, left out of --help (`hidden: true`). */
function isHidden(def: unknown): boolean {
  return (def as { hidden?: unknown }).hidden === true;
}

/**
 * A command's --help: citty's layout, without hidden arguments (the flags `schedule` writes into scheduler
 * entries), and plain text unless `colour` (citty colours whenever it is not told NO_COLOR=1, CI or TEST).
 */
export async function renderHelp(cmd: CommandDef<ArgsDef>, parent: CommandDef<ArgsDef>, colour = colourWanted()): Promise<string> {
  const args = (typeof cmd.args === 'function' ? await cmd.args() : await cmd.args) ?? {};
  const shown = Object.fromEntries(Object.entries(args).filter(([, def]) => !isHidden(def)));
  const text = await renderUsage({ ...cmd, args: shown }, parent);
  // A blank line after it, as citty's showUsage printed it.
  return `${colour ? text : text.replace(/\u001b\[[0-9;]*m/g, '')}\n\n`;
}
