// Sums the counts the hardening suites tallied (NOOM_HARDENING_TALLY, one
// `suite<TAB>what<TAB>count` line per call) and prints them as a table; with
// `--doc FILE` also writes the table into FILE between
// `<!-- figures:hardening:begin -->` and `<!-- figures:hardening:end -->`.
// Usage: node tests/hardening/figures.mjs TALLY_FILE [--doc docs/reliability.md]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/server.mjs';
import { spliceFigures } from './load.mjs';

const [tallyFile, flag, doc] = process.argv.slice(2);
const sums = new Map();
for (const line of readFileSync(tallyFile, 'utf8').split('\n').filter(Boolean)) {
  const [suite, what, count] = line.split('\t');
  const key = `${suite}\t${what}`;
  sums.set(key, (sums.get(key) ?? 0) + Number(count));
}
const rows = [...sums].map(([key, n]) => `| ${key.replace('\t', ' | ')} | ${n} |`);
const table = `Last \`make test-hardening FIGURES=1\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC), every one against a real \`wrangler dev\`:\n\n`
  + `| suite | what was thrown at the server | count |\n|---|---|---|\n${rows.join('\n')}\n`;
console.log(table);
if (flag === '--doc' && doc) spliceFigures(path.resolve(ROOT, doc), 'hardening', table);
