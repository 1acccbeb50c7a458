// Summarise a .cpuprofile (from `node --cpu-prof`): self time per function and per file, top entries.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [top]   (with several profiles in the folder, the
// main thread's is the first)
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
process.stdout.on('error', () => process.exit(0)); // piped into head
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i]);
  self.set(n, (self.get(n) ?? 0) + (dt[i] ?? 0));
}
const fn = new Map();
const files = new Map();
for (const [n, us] of self) {
  const cf = n.callFrame;
  const where = cf.url.replace(/^.*\/(node_modules\/[^/]+|dist|src)\//, '$1/');
  const key = `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  files.set(where || '(native)', (files.get(where || '(native)') ?? 0) + us);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const show = (title, m) => {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(0)} ms)\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(1).padStart(8)} ms  ${k}\n`);
  }
};
show('self time by function', fn);
show('self time by file', files);
