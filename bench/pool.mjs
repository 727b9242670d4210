// Pools the per-round Noom/baseline ratios of several full runs and puts a
// bootstrap interval around their median: one run's 15 rounds cannot tell a
// 3% difference from noise, several runs of the same relay can come closer.
//
//   node bench/pool.mjs 25a7cab 27c7200 a001364
//
// Each argument is a commit whose bench/results/results.json holds a full run
// (the "bench: full run of ..." commits). Reads git only; runs nothing.
import { execFileSync } from 'node:child_process';
import { median, percentile, roundP50s, valid } from './report.mjs';
import { ROOT } from './lib/servers.mjs';

const commits = process.argv.slice(2);
if (commits.length === 0) {
  console.error('usage: node bench/pool.mjs <commit> [<commit>...]');
  process.exit(2);
}

/** Per workload (and `p50`), every round's Noom/baseline ratio over all the runs. */
const ratios = {};
for (const commit of commits) {
  const results = JSON.parse(execFileSync('git', ['show', `${commit}:bench/results/results.json`], { cwd: ROOT, maxBuffer: 1 << 28 }));
  for (const [workload, samples] of Object.entries(results.throughput.noom)) {
    for (const mine of samples) {
      const theirs = results.throughput['baseline-js'][workload].find((s) => s.round === mine.round);
      if (theirs && valid(mine) && valid(theirs)) (ratios[workload] ??= []).push(mine.cpuUsPerDelivery / theirs.cpuUsPerDelivery);
    }
  }
  const noom = roundP50s(results.latency.noom);
  const baseline = roundP50s(results.latency['baseline-js']);
  noom.forEach((p50, i) => (ratios.p50 ??= []).push(p50 / baseline[i]));
}

/** A fixed-seed generator, so the same runs always print the same interval. */
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const RESAMPLES = 4000;

console.log(`Noom / baseline-js, per-round ratios pooled over ${commits.join(', ')}:`);
console.log('workload    rounds  median  95% interval   rounds below 1');
for (const [workload, values] of Object.entries(ratios)) {
  const medians = [];
  for (let i = 0; i < RESAMPLES; i += 1) medians.push(median(values.map(() => values[Math.floor(random() * values.length)])));
  const below = values.filter((v) => v < 1).length / values.length;
  console.log(`${workload.padEnd(11)} ${String(values.length).padStart(6)}  ${median(values).toFixed(3)}   `
    + `${percentile(medians, 2.5).toFixed(3)}-${percentile(medians, 97.5).toFixed(3)}    ${Math.round(below * 100)}%`);
}
