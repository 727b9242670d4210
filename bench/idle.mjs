// The idle signal path, timed inside each server's Worker process with
// system-call tracing: `perf record -e raw_syscalls:*` on the Worker's workerd
// (not wrangler's proxy) while the servers take turns forwarding one signal at
// a time, 20 ms apart, as in the latency benchmark. For every wake-up of the
// process's threads that wrote something (the forwarded frame), it takes the
// time from leaving `epoll_wait` to entering it again: the read, the handler
// and the write, with the code and data coming back into the caches. The
// median over hundreds of signals moves by about 1% from run to run, far less
// than the client-side latency, so it can tell builds apart where the
// latency benchmark cannot. Tracing slows every system call, so the times
// are longer than untraced ones; compare servers within one run.
//
//   node bench/idle.mjs [servers] [signals per run] [runs]
//   node bench/idle.mjs noom,before,baseline-js 300 3
//
// Needs `perf` (Debian: linux-perf) and root or kernel.perf_event_paranoid <= 1.
// Loopback only; bounded by the signal count.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { RUN_DIR, serverSpecs, startServer } from './lib/servers.mjs';
import { median } from './report.mjs';
import { closeSet, openRoomSet, runThroughput, signalLatency, sleep, throughputWorkloads } from './lib/load.mjs';

const [serversArg = 'noom,baseline-js', signalsArg = '300', runsArg = '3'] = process.argv.slice(2);
const specs = serverSpecs(serversArg.split(','));
const signals = Math.max(10, Math.min(2000, Number(signalsArg) || 300));
const runs = Math.max(1, Math.min(10, Number(runsArg) || 3));
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('perf is not installed');
  process.exit(2);
}
// x86_64 system call numbers.
const WAITS = new Set([7, 232, 281]); // poll, epoll_wait, epoll_pwait
const WRITES = new Set([1, 20, 44, 46]); // write, writev, sendto, sendmsg

/** Busy time of each wake-up that wrote, per server, from a `perf record` file. */
function wakeTimes(file, serverOfPid, into) {
  const out = spawnSync('perf', ['script', '-i', file, '-F', 'pid,tid,time,event,trace'], { maxBuffer: 1 << 30 }).stdout.toString();
  const awake = new Map(); // tid -> { since, wrote }
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\/(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)/.exec(line);
    if (!m) continue;
    const key = serverOfPid.get(Number(m[1]));
    if (!key) continue;
    const [tid, us, kind, nr] = [m[2], Number(m[3]) * 1e6, m[4], Number(m[5])];
    if (kind === 'exit' && WAITS.has(nr)) awake.set(tid, { since: us, wrote: false });
    else if (kind === 'enter' && awake.has(tid)) {
      if (WRITES.has(nr)) awake.get(tid).wrote = true;
      if (WAITS.has(nr)) {
        const wake = awake.get(tid);
        if (wake.wrote) into[key].push(us - wake.since);
        awake.delete(tid);
      }
    }
  }
}

const live = [];
try {
  for (const spec of specs) live.push(await startServer(spec));
  // Warm-up as in the full benchmark: a throughput burst, then a few signals.
  const warm = throughputWorkloads(false).find((w) => w.key === 'fanout-2');
  const sets = [];
  const pairs = [];
  for (const server of live) {
    pairs.push({ server, pair: await openRoomSet(server, 'idle', 1, 2) });
    sets.push(await openRoomSet(server, warm.key, warm.rooms, warm.size));
    await runThroughput(server, warm, sets.at(-1));
  }
  await signalLatency(pairs, 20);
  const serverOfPid = new Map(live.map((s) => [s.workerPids()[0], s.key]));
  const busy = Object.fromEntries(live.map((s) => [s.key, []]));
  const latency = Object.fromEntries(live.map((s) => [s.key, []]));
  for (let run = 0; run < runs; run += 1) {
    const file = path.join(RUN_DIR, `idle-${run}.data`);
    const perf = spawn('perf', ['record', '-q', '-e', 'raw_syscalls:sys_enter', '-e', 'raw_syscalls:sys_exit',
      '-p', [...serverOfPid.keys()].join(','), '-o', file], { stdio: 'ignore' });
    await sleep(1500);
    for (const [key, v] of await signalLatency(pairs, signals)) latency[key].push(...v.samples);
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
    const before = Object.fromEntries(live.map((s) => [s.key, busy[s.key].length]));
    wakeTimes(file, serverOfPid, busy);
    console.log(`run ${run + 1}/${runs}: ${live.map((s) => `${s.key} ${median(busy[s.key].slice(before[s.key])).toFixed(0)} µs`).join(', ')}`);
  }
  console.log(`\nbusy time per signal in the Worker process (median over ${runs} runs of ${signals}), and client-side latency p50:`);
  for (const s of live) {
    console.log(`  ${s.key.padEnd(12)} ${median(busy[s.key]).toFixed(0).padStart(5)} µs (${busy[s.key].length} wake-ups)   latency p50 ${median(latency[s.key]).toFixed(3)} ms`);
  }
  for (const { pair } of pairs) closeSet(pair);
  for (const set of sets) closeSet(set);
} finally {
  await Promise.allSettled(live.map((s) => s.stop()));
}
process.exit(0);
