// Pools the per-round Noom/baseline ratios of several full runs and puts a
// bootstrap interval around their median: one run's 15 rounds cannot tell a
// 3% difference from noise, several runs of the same relay can come closer.
// A second table does the same against floor-js (the issue reads fan-out 8 as
// "within about 10% of the JavaScript floor").
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

/** Per other server, per workload (and `p50`), every round's Noom/other ratio over all the runs. */
const ratios = { 'baseline-js': {}, 'floor-js': {} };
for (const commit of commits) {
  const results = JSON.parse(execFileSync('git', ['show', `${commit}:bench/results/results.json`], { cwd: ROOT, maxBuffer: 1 << 28 }));
  const noomP50s = roundP50s(results.latency.noom);
  for (const [other, byWorkload] of Object.entries(ratios)) {
    if (!results.throughput[other]) continue;
    for (const [workload, samples] of Object.entries(results.throughput.noom)) {
      for (const mine of samples) {
        const theirs = results.throughput[other][workload].find((s) => s.round === mine.round);
        if (theirs && valid(mine) && valid(theirs)) (byWorkload[workload] ??= []).push(mine.cpuUsPerDelivery / theirs.cpuUsPerDelivery);
      }
    }
    if (!results.latency[other]) continue;
    const theirs = roundP50s(results.latency[other]);
    noomP50s.forEach((p50, i) => (byWorkload.p50 ??= []).push(p50 / theirs[i]));
  }
}

/** A fixed-seed generator, so the same runs always print the same interval. */
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const RESAMPLES = 4000;

for (const [other, byWorkload] of Object.entries(ratios)) {
  console.log(`Noom / ${other}, per-round ratios pooled over ${commits.join(', ')}:`);
  console.log('workload    rounds  median  95% interval   rounds below 1');
  for (const [workload, values] of Object.entries(byWorkload)) {
    const medians = [];
    for (let i = 0; i < RESAMPLES; i += 1) medians.push(median(values.map(() => values[Math.floor(random() * values.length)])));
    const below = values.filter((v) => v < 1).length / values.length;
    console.log(`${workload.padEnd(11)} ${String(values.length).padStart(6)}  ${median(values).toFixed(3)}   `
      + `${percentile(medians, 2.5).toFixed(3)}-${percentile(medians, 97.5).toFixed(3)}    ${Math.round(below * 100)}%`);
  }
}
