// Interleaved A/B of a few servers on chosen throughput workloads: every
// round runs each workload on every server back to back (order alternating),
// and prints each server's CPU per delivery (the Worker's workerd only, from
// /proc) as a ratio to the last server named. At the end: median ratios with
// their min-max, and the signal latency p50 if asked for.
//
//   node bench/ab.mjs --save before          keep the current build as "before"
//   node bench/ab.mjs [servers] [workloads] [rounds] [signals per round]
//   node bench/ab.mjs noom,before fanout-2,signal-4k 30 0
//
// Per-round ratios spread widely on this machine (0.5 to 1.8 between two
// copies of one build; see BENCHMARKS.md), so a difference of a few percent
// needs 30 rounds or more. Loopback only; bounded by the round count.
import { saveBuild, serverSpecs, startServer } from './lib/servers.mjs';
import { median } from './report.mjs';
import { closeSet, openRoomSet, runThroughput, signalLatency, throughputWorkloads } from './lib/load.mjs';

const argv = process.argv.slice(2);
if (argv[0] === '--save') {
  saveBuild(argv[1] ?? 'before');
  console.log(`saved the current build as ${argv[1] ?? 'before'}`);
  process.exit(0);
}
const [serversArg = 'noom,baseline-js', workloadsArg = 'fanout-2,fanout-4', roundsArg = '16', signalsArg = '0'] = argv;
const specs = serverSpecs(serversArg.split(','));
const workloads = throughputWorkloads(false).filter((w) => workloadsArg.split(',').includes(w.key));
const rounds = Math.max(1, Math.min(200, Number(roundsArg) || 16));
const signals = Math.max(0, Math.min(1000, Number(signalsArg) || 0));

const live = [];
try {
  for (const spec of specs) live.push(await startServer(spec));
  const sets = new Map();
  for (const s of live) {
    sets.set(`${s.key}/latency`, await openRoomSet(s, 'lat', 1, 2));
    for (const w of workloads) sets.set(`${s.key}/${w.key}`, await openRoomSet(s, w.key, w.rooms, w.size));
  }
  const pairs = live.map((server) => ({ server, pair: sets.get(`${server.key}/latency`) }));
  // Warm-up: everything once, unmeasured.
  await signalLatency(pairs, 20);
  for (const s of live) for (const w of workloads) await runThroughput(s, w, sets.get(`${s.key}/${w.key}`));

  const ref = live.at(-1).key;
  const latency = Object.fromEntries(live.map((s) => [s.key, []]));
  const cpu = Object.fromEntries(workloads.map((w) => [w.key, Object.fromEntries(live.map((s) => [s.key, []]))]));
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 ? [...live].reverse() : live;
    if (signals) for (const [key, v] of await signalLatency(pairs, signals)) latency[key].push(...v.samples);
    const line = [];
    for (const w of workloads) {
      for (const s of order) {
        const x = await runThroughput(s, w, sets.get(`${s.key}/${w.key}`));
        if (x.errors || !x.complete) console.log(`!! ${s.key} ${w.key}: ${x.errors} errors, ${x.delivered}/${x.expected} delivered`);
        cpu[w.key][s.key].push(x.workerUsPerDelivery);
      }
      const base = cpu[w.key][ref].at(-1);
      line.push(`${w.key} ${live.map((s) => (cpu[w.key][s.key].at(-1) / base).toFixed(2)).join(' ')}`);
    }
    console.log(`round ${round + 1}/${rounds}: ${line.join(' | ')}`);
  }
  console.log(`\nratios to ${ref} (median [min-max] over ${rounds} rounds), Worker process CPU per delivery:`);
  for (const w of workloads) {
    for (const s of live) {
      const ratios = cpu[w.key][s.key].map((v, i) => v / cpu[w.key][ref][i]);
      console.log(`  ${w.key.padEnd(10)} ${s.key.padEnd(12)} ${median(cpu[w.key][s.key]).toFixed(2).padStart(7)} µs  `
        + `${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}]`);
    }
  }
  if (signals) for (const s of live) console.log(`  latency p50 ${s.key}: ${median(latency[s.key]).toFixed(3)} ms (${latency[s.key].length} signals)`);
  for (const set of sets.values()) closeSet(set);
} finally {
  await Promise.allSettled(live.map((s) => s.stop()));
}
process.exit(0);
