// `make bench`: every benchmark in one go, then BENCHMARKS.md.
//
//   node bench/run.mjs [--quick] [--rounds N] [--servers a,b] [--no-browser]
//
// 1. sizes (Worker bundle, page) — no server needed;
// 2. the four servers side by side, each under its own `wrangler dev`;
// 3. relay workloads in rounds (every server back to back, order alternating);
// 4. call set-up in headless Chromium, in a loopback-only network namespace
//    (bench/browser.mjs starts its own Noom there);
// 5. results in bench/results/ (JSON, SVG) and BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { SERVERS, ROOT, startServer } from './lib/servers.mjs';
import {
  closeSet, joinTimes, openRoomSet, runThroughput, signalLatency, sleep, throughputWorkloads,
} from './lib/load.mjs';
import { measureSizes } from './lib/sizes.mjs';
import { machineInfo } from './lib/machine.mjs';
import { writeReport } from './report.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('--quick') || process.env.BENCH_QUICK === '1';
const rounds = Number(option('--rounds') ?? (quick ? 2 : 15));
const only = option('--servers')?.split(',');
const servers = SERVERS.filter((s) => !only || only.includes(s.key));
const browser = !flag('--no-browser') && process.env.BENCH_BROWSER !== '0';
const RESULTS = path.join(ROOT, 'bench', 'results');
mkdirSync(RESULTS, { recursive: true });

const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const started = Date.now();

const results = {
  quick,
  rounds,
  startedAt: new Date().toISOString(),
  machine: machineInfo(),
  commands: {},
  sizes: measureSizes(),
  servers: {},
  latency: {},
  join: {},
  throughput: {},
  browser: null,
};
log(`machine: ${results.machine.cpuModel}, ${results.machine.nproc} CPUs; ${quick ? 'quick' : 'full'} run, ${rounds} rounds`);

const workloads = throughputWorkloads(quick);
results.workloadsInfo = workloads.map(({ key, title, rooms, size, perSocket }) => ({ key, title, rooms, size, perSocket }));
const latencyCount = quick ? 60 : 150;
const joinCount = quick ? 4 : 8;

const live = [];
/** Each server's workerd processes when it started (to tell a restart, if the run stops). */
const startPids = new Map();
async function stopAll() {
  await Promise.allSettled(live.map((s) => s.stop()));
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { stopAll().finally(() => process.exit(130)); });
}

try {
  // ---- servers ----------------------------------------------------------------
  for (const spec of servers) {
    log(`starting ${spec.key}`);
    const server = await startServer(spec);
    live.push(server);
    results.commands[spec.key] = server.command;
    const pids = server.workerdPids();
    startPids.set(spec.key, pids);
    // Idle cost: what the runtime burns with nothing to do, for context.
    const before = server.cpu();
    await sleep(2000);
    const after = server.cpu();
    results.servers[spec.key] = {
      label: spec.label, contract: spec.contract, workerdProcesses: pids.length,
      idleCpuUsPerSecond: (after.schedUs - before.schedUs) / 2,
    };
    log(`${spec.key} on ${server.url}, workerd pids ${pids.join(',')}`);
  }

  // ---- room sets, opened once ---------------------------------------------------
  const sets = new Map();
  for (const server of live) {
    log(`${server.key}: opening rooms`);
    sets.set(`${server.key}/latency`, await openRoomSet(server, 'lat', 1, 2));
    for (const w of workloads) sets.set(`${server.key}/${w.key}`, await openRoomSet(server, w.key, w.rooms, w.size));
  }

  // ---- warm-up: one unmeasured run of everything on every server -----------------
  const latencyPairs = live.map((server) => ({ server, pair: sets.get(`${server.key}/latency`) }));
  await signalLatency(latencyPairs, 20);
  for (const server of live) {
    for (const w of workloads) await runThroughput(server, w, sets.get(`${server.key}/${w.key}`));
  }
  log('warm-up done');

  // ---- rounds -----------------------------------------------------------------------
  for (const s of live) {
    // `roundSizes`: how many of `samples` each round added (for per-round p50s).
    results.latency[s.key] = { samples: [], errors: 0, roundSizes: [] };
    results.join[s.key] = { connectMs: [], joinMs: [], errors: 0 };
    results.throughput[s.key] = Object.fromEntries(workloads.map((w) => [w.key, []]));
  }
  for (let round = 0; round < rounds; round += 1) {
    // Alternating order: forward in even rounds, backward in odd ones.
    const order = round % 2 === 0 ? live : [...live].reverse();
    // Latency: the servers take turns signal by signal (see signalLatency).
    for (const [key, lat] of await signalLatency(latencyPairs, latencyCount)) {
      results.latency[key].samples.push(...lat.samples);
      results.latency[key].roundSizes.push(lat.samples.length);
      results.latency[key].errors += lat.errors;
    }
    for (const server of order) {
      const joins = await joinTimes(server, joinCount, `join-r${round}`);
      results.join[server.key].connectMs.push(...joins.connectMs);
      results.join[server.key].joinMs.push(...joins.joinMs);
      results.join[server.key].errors += joins.errors;
    }
    for (const w of workloads) {
      for (const server of order) {
        const sample = await runThroughput(server, w, sets.get(`${server.key}/${w.key}`));
        sample.round = round;
        results.throughput[server.key][w.key].push(sample);
        const flagText = sample.errors || !sample.complete || sample.closedSockets
          ? ` !! errors ${sample.errors}, delivered ${sample.delivered}/${sample.expected}, closed ${sample.closedSockets}` : '';
        log(`round ${round + 1}/${rounds} ${w.key} ${server.key}: ${Math.round(sample.deliveriesPerSecond)} deliveries/s, `
          + `${sample.cpuUsPerDelivery.toFixed(2)} µs/delivery (sched ${sample.schedUsPerDelivery.toFixed(2)}, worker ${sample.workerUsPerDelivery.toFixed(2)})${flagText}`);
      }
    }
  }
  for (const set of sets.values()) closeSet(set);
  await sleep(500);
} catch (err) {
  // What each server was doing: a workerd replaced since the start shows up
  // as a changed pid list, and wrangler's own words are in its log.
  log(`stopped: ${err.message}`);
  for (const server of live) {
    log(`${server.key}: workerd pids at start ${startPids.get(server.key)?.join(',')}, now ${server.workerdPids().join(',')}`);
    const tail = server.logs().trim().split('\n').slice(-15).join('\n');
    if (tail) console.log(tail);
  }
  throw err;
} finally {
  log('stopping servers');
  await stopAll();
}

// ---- browser call set-up, in its own loopback-only network namespace ------------------
if (browser) {
  log('browser call set-up (Chromium, loopback-only namespace)');
  const out = path.join(ROOT, 'bench', '.run', 'browser.json');
  const args = [quick ? '--quick' : '', `--out ${JSON.stringify(out)}`].join(' ');
  const script = `ip link set lo up && exec node ${JSON.stringify(path.join(ROOT, 'bench', 'browser.mjs'))} ${args}`;
  const run = spawnSync('unshare', ['--net', 'bash', '-c', script], { stdio: 'inherit', timeout: 8 * 60_000, cwd: ROOT });
  if (run.status === 0 && existsSync(out)) {
    results.browser = JSON.parse(readFileSync(out, 'utf8'));
  } else {
    results.browser = { error: `browser run failed (status ${run.status}${run.error ? `, ${run.error.message}` : ''})` };
    log(results.browser.error);
  }
}

results.finishedAt = new Date().toISOString();
results.durationSeconds = Math.round((Date.now() - started) / 1000);
const resultsDir = quick ? path.join(RESULTS, 'quick') : RESULTS;
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
writeReport(results);
log(`done in ${results.durationSeconds} s: BENCHMARKS.md and bench/results/`);
