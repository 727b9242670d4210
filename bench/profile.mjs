// Profiles one server under one throughput workload with V8's CPU profiler,
// through `wrangler dev`'s inspector port, and prints where the Worker's time
// goes (self time by function). The full profile is written to
// bench/.run/<server>-<workload>.cpuprofile (open it in Chrome DevTools).
// With `heap` fourth it runs V8's sampling heap profiler instead and prints
// the bytes allocated per delivery by call site (the garbage the collector
// will have to deal with), written to bench/.run/<server>-<workload>.heapprofile.
//
//   node bench/profile.mjs [server] [workload] [bursts] [cpu|heap]
//   node bench/profile.mjs noom fanout-2 4
//   node bench/profile.mjs baseline-js fanout-4 3 heap
//
// Loopback only, like the rest of the benchmark; bounded by the burst count.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { SERVERS, RUN_DIR, startServer } from './lib/servers.mjs';
import { openRoomSet, runThroughput, throughputWorkloads, closeSet, sleep } from './lib/load.mjs';

const [serverKey = 'noom', workloadKey = 'fanout-2', burstsArg = '4', modeArg = 'cpu'] = process.argv.slice(2);
const heap = modeArg === 'heap';
const spec = SERVERS.find((s) => s.key === serverKey);
const workload = throughputWorkloads(false).find((w) => w.key === workloadKey);
if (!spec || !workload) {
  console.error(`usage: node bench/profile.mjs [${SERVERS.map((s) => s.key).join('|')}] [${throughputWorkloads(false).map((w) => w.key).join('|')}] [bursts] [cpu|heap]`);
  process.exit(2);
}
const bursts = Math.max(1, Math.min(20, Number(burstsArg) || 4));

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspect(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let nextId = 1;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 60_000);
    pending.set(id, (msg) => { clearTimeout(timer); msg.error ? reject(new Error(msg.error.message)) : resolve(msg.result); });
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

/** Self time per function (name and script position), largest first. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}:${f.lineNumber}:${f.columnNumber}`;
    // A sample stands for the time until the next one; a long gap is the
    // isolate waiting between bursts, not work.
    const us = Math.min(dt[i + 1] ?? 0, 1000);
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  return { total, rows: [...self.entries()].sort((a, b) => b[1] - a[1]) };
}

/** Bytes allocated per call site (the innermost three frames), largest first. */
function summarizeHeap(profile) {
  const bySite = new Map();
  let total = 0;
  const frameName = (f) => `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}:${f.lineNumber}`;
  const walk = (node, stack) => {
    const here = [...stack, frameName(node.callFrame)].slice(-3);
    if (node.selfSize) {
      const key = here.join(' < ');
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  return { total, rows: [...bySite.entries()].sort((a, b) => b[1] - a[1]) };
}

/** Runs the bursts and returns the deliveries they made. */
async function runBursts(server, set) {
  let delivered = 0;
  for (let i = 0; i < bursts; i += 1) {
    const r = await runThroughput(server, workload, set);
    delivered += r.delivered;
    console.log(`burst ${i + 1}: ${r.delivered}/${r.expected} delivered, ${r.workerUsPerDelivery.toFixed(1)} µs/delivery (worker), ${r.errors} errors`);
  }
  return delivered;
}

/** V8's CPU profiler: self time per function. */
const CPU = {
  extension: 'cpuprofile',
  async start(cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
    await cdp.send('Profiler.start');
  },
  stop: async (cdp) => (await cdp.send('Profiler.stop')).profile,
  report(profile, delivered) {
    const { total, rows } = summarize(profile);
    const busy = rows.filter(([k]) => !k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
    return [`${(busy / delivered).toFixed(2)} µs sampled JS/WASM time per delivery (${(total / 1e6).toFixed(1)} s profiled)`,
      ...rows.slice(0, 30).map(([key, us]) => `${(us / delivered).toFixed(2).padStart(8)} µs  ${(100 * us / busy).toFixed(1).padStart(5)}%  ${key}`)];
  },
};

/** V8's sampling heap profiler: bytes allocated per call site. */
const HEAP = {
  extension: 'heapprofile',
  async start(cdp) {
    // Every allocation of 64 bytes or more is likely to be sampled; objects
    // the collector has already freed stay in (they are the garbage).
    await cdp.send('HeapProfiler.enable');
    await cdp.send('HeapProfiler.startSampling', {
      samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    });
  },
  stop: async (cdp) => (await cdp.send('HeapProfiler.stopSampling')).profile,
  report(profile, delivered) {
    const { total, rows } = summarizeHeap(profile);
    return [`${(total / delivered).toFixed(1)} bytes allocated per delivery (sampled)`,
      ...rows.slice(0, 20).map(([key, bytes]) => `${(bytes / delivered).toFixed(1).padStart(8)} B  ${key}`)];
  },
};

const server = await startServer(spec);
const inspectorPort = Number(/--inspector-port (\d+)/.exec(server.command)[1]);
try {
  const set = await openRoomSet(server, `prof-${workload.key}`, workload.rooms, workload.size);
  await runThroughput(server, workload, set); // warm-up
  const cdp = await inspect(inspectorPort);
  const profiler = heap ? HEAP : CPU;
  await profiler.start(cdp);
  const delivered = await runBursts(server, set);
  const profile = await profiler.stop(cdp);
  cdp.close();
  const file = path.join(RUN_DIR, `${spec.key}-${workload.key}.${profiler.extension}`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`\n${spec.key} ${workload.key}: ${delivered} deliveries, ${profiler.report(profile, delivered).join('\n')}`);
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
  closeSet(set);
  await sleep(300);
} finally {
  await server.stop();
}
