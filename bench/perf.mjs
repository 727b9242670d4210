// Where a server's CPU goes, by layer, from Linux `perf`: records the Worker's
// workerd process (not wrangler's proxy) during a few bursts of one throughput
// workload, for each server in turn, and prints the share of samples in the
// kernel, workerd's event loop and dispatch, V8, JIT code and the rest.
// workerd ships with its symbols, so native frames have names; JIT code
// (WebAssembly, optimized JavaScript) shows up as one "JIT" bucket.
//
//   node bench/perf.mjs [servers] [workload] [bursts]
//   node bench/perf.mjs noom,baseline-js fanout-2 6
//
// Needs `perf` (Debian: linux-perf) and permission to attach to the process
// (root, or kernel.perf_event_paranoid <= 1). Loopback only, like the rest of
// the benchmark; bounded by the burst count.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { SERVERS, RUN_DIR, startServer } from './lib/servers.mjs';
import { openRoomSet, runThroughput, throughputWorkloads, closeSet, sleep } from './lib/load.mjs';

const [keysArg = 'noom,baseline-js', workloadKey = 'fanout-2', burstsArg = '6'] = process.argv.slice(2);
const specs = keysArg.split(',').map((k) => SERVERS.find((s) => s.key === k));
const workload = throughputWorkloads(false).find((w) => w.key === workloadKey);
if (specs.includes(undefined) || !workload) {
  console.error(`usage: node bench/perf.mjs [${SERVERS.map((s) => s.key).join(',')}] [${throughputWorkloads(false).map((w) => w.key).join('|')}] [bursts]`);
  process.exit(2);
}
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('perf is not installed');
  process.exit(2);
}
const bursts = Math.max(1, Math.min(20, Number(burstsArg) || 6));

/** The layer a sample's innermost frame belongs to. */
function layer(symbol, dso) {
  if (dso.includes('kernel')) return 'kernel (TCP, scheduling)';
  if (dso.includes('JIT') || dso.includes('perf-')) return 'JIT code (WebAssembly, optimized JavaScript)';
  if (/v8::|^Builtins_|cppgc::/.test(symbol)) return 'V8 runtime, builtins and GC';
  if (/^workerd::jsg|tcmalloc|TCMalloc/.test(symbol) || dso.includes('libc')) return 'jsg bindings, tcmalloc, libc';
  if (/^(kj::|capnp::|workerd::)/.test(symbol)) return 'kj event loop and workerd';
  return 'other';
}

/** Share of samples per layer in a `perf record` file (innermost frame only). */
function layers(file) {
  const out = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout;
  const counts = new Map();
  let total = 0;
  // With call graphs, each sample is a block of frames; the first line is the innermost.
  for (const block of out.split(/\n\s*\n/)) {
    const line = block.trim().split('\n')[0]?.trim();
    const m = /^[0-9a-f]+\s+(.*)\s+\((.*)\)$/.exec(line ?? '');
    if (!m) continue;
    const key = layer(m[1], m[2]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total += 1;
  }
  return { total, counts };
}

const results = [];
for (const spec of specs) {
  const server = await startServer(spec);
  try {
    const set = await openRoomSet(server, `perf-${workload.key}`, workload.rooms, workload.size);
    await runThroughput(server, workload, set); // warm-up
    const worker = server.workerPids();
    const file = path.join(RUN_DIR, `perf-${spec.key}-${workload.key}.data`);
    const perf = spawn('perf', ['record', '-F', '4000', '-g', '-o', file, '-p', worker.join(',')], { stdio: 'ignore' });
    await sleep(500);
    let delivered = 0;
    for (let i = 0; i < bursts; i += 1) delivered += (await runThroughput(server, workload, set)).delivered;
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
    results.push({ key: spec.key, delivered, ...layers(file) });
    closeSet(set);
    await sleep(300);
  } finally {
    await server.stop();
  }
}

const names = [...new Set(results.flatMap((r) => [...r.counts.keys()]))].sort();
console.log(`\n${workload.key}, ${bursts} bursts per server: share of samples in the Worker's workerd\n`);
console.log(`| layer | ${results.map((r) => r.key).join(' | ')} |`);
console.log(`|---|${results.map(() => '---|').join('')}`);
for (const name of names) {
  console.log(`| ${name} | ${results.map((r) => `${(100 * (r.counts.get(name) ?? 0) / r.total).toFixed(1)}%`).join(' | ')} |`);
}
console.log(`| samples per 1000 deliveries | ${results.map((r) => (1000 * r.total / r.delivered).toFixed(0)).join(' | ')} |`);
