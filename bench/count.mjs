// Instructions per `state` message, counted by valgrind's callgrind in the
// workerd process that runs the Worker: a measure that does not move with the
// machine's load, for changes too small for the CPU-time tools (paced.mjs,
// ab.mjs) to see. In one room (of 8 unless told), one `state` change goes out
// and all its deliveries arrive before the next; the instructions of the process's main
// thread over a block of messages, divided by the messages, is one sample.
// Servers run one after another, each under valgrind (about 50 times slower).
//
//   node bench/count.mjs [servers] [pause ms] [blocks] [messages per block] [room size] [state|signal-4k|signal-short]
//   node bench/count.mjs noom,baseline-js 0 5 200     back to back, as paced.mjs
//   node bench/count.mjs noom,baseline-js 200 3 40    at a meeting's pace
//   node bench/count.mjs noom,baseline-js 0 5 200 2   fan-out 2: one delivery each
//   node bench/count.mjs noom,baseline-js 0 5 200 2 signal-4k   4 KB offers in a pair
//   node bench/count.mjs noom,baseline-js 0 5 200 2 signal-short   the latency test's signals, in a pair
//
// Prints per server the instructions per message over all blocks, the part in
// generated code (WebAssembly and JavaScript; the rest is the runtime:
// workerd's C++, V8's builtins, the allocator) and in garbage collection, and
// the ratio to the last server named. A block with a collection in it stands
// out: use enough messages that collections average out (the default, 5
// blocks of 200, sees several).
//
// Run to run, one build's figure moves by about 2% (which turns of the event
// loop a message shares with others, when a collection falls); the
// generated-code part by well under 1%. What it does not see: the kernel
// (sending on a socket), other threads, and time (a cache miss costs one
// instruction). Needs valgrind (on this machine kind). Loopback only; bounded
// by the block count.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RUN_DIR, ROOT, serverSpecs, startServer } from './lib/servers.mjs';
import { closeSet, openRoomSet, signalExchanges, sleep, stateChanges } from './lib/load.mjs';

const [keys = 'noom,baseline-js', pauseArg = '0', blocksArg = '5', blockArg = '200', sizeArg = '8', workloadArg = 'state'] = process.argv.slice(2);
const pauseMs = Math.max(0, Math.min(2000, Number(pauseArg) || 0));
const blocks = Math.max(1, Math.min(20, Number(blocksArg) || 5));
const block = Math.max(8, Math.min(400, Number(blockArg) || 200));
/**
 * `state` changes; `signal-4k`: a pair trading 4 KB offers; `signal-short`:
 * a pair trading the latency test's short signals (both room size 2).
 */
const short = workloadArg === 'signal-short';
const signals = short || workloadArg === 'signal-4k';
/** Members of the one room: a message makes `size - 1` deliveries. */
const size = signals ? 2 : Math.max(2, Math.min(8, Number(sizeArg) || 8));
/**
 * Messages before the first block. With fewer (300), V8 had optimized the
 * glue's string copy in one run and not in the next: 4% apart, for one build.
 */
const WARM_UP = 1000;

try {
  execFileSync('valgrind', ['--version']);
} catch {
  console.error('valgrind is not installed (apt-get install -y valgrind)');
  process.exit(1);
}

const OUT_DIR = path.join(RUN_DIR, 'callgrind');
rmSync(OUT_DIR, { recursive: true, force: true });
mkdirSync(OUT_DIR, { recursive: true });

/**
 * The workerd that miniflare starts, through a script that runs the Worker's
 * process under callgrind. wrangler dev starts two: a proxy on the public
 * port, and the Worker itself, the only one given an inspector address.
 */
const workerd = path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd');
if (!existsSync(workerd)) throw new Error(`no workerd at ${workerd}: run make build first`);
const wrapper = path.join(OUT_DIR, 'workerd.sh');
writeFileSync(wrapper, `#!/bin/sh
case "$*" in *--inspector-addr*) ;; *) exec "${workerd}" "$@";; esac
echo $$ > "${OUT_DIR}/pid"
exec valgrind --tool=callgrind --fair-sched=yes --smc-check=all-non-file --separate-threads=yes \\
  --callgrind-out-file="${OUT_DIR}/cg.%p.out" --log-file="${OUT_DIR}/valgrind.%p.log" "${workerd}" "$@"
`);
chmodSync(wrapper, 0o755);
process.env.MINIFLARE_WORKERD_PATH = wrapper;

function control(pid, ...args) {
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', timeout: 120_000 });
}

/** A call into the collector from outside it: its inclusive cost is one collection. */
const GC_ENTRY = /^v8::internal::Heap::CollectGarbage\(/;
const IN_GC = /Heap::CollectGarbage|SetMarkerAndCallbackImpl/;

/**
 * The main thread's instructions in one callgrind dump: in all, in generated
 * code (WebAssembly and JavaScript compiled by V8: no object file and no
 * symbol, so callgrind names such a function by its address; the rest is the
 * runtime: workerd's C++, V8's builtins, its allocator, libc), and inside
 * garbage collections (a scavenge is several times the cost of a message,
 * and comes every few hundred, more often the more a message allocates).
 * Costs are self costs, except the line after `calls=`: the inclusive cost
 * of that call, counted only for the collector's entry.
 */
function readDump(file) {
  const objects = new Map();
  const functions = new Map();
  const split = { runtime: 0, generated: 0, gc: 0 };
  let object = '';
  let fn = '';
  let callee = '';
  let where = 'runtime';
  let call = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // Objects and functions are named where they first appear, as
    // `ob=(n) name` or `cob=(n) name`; later only as `ob=(n)`.
    const named = /^c?(ob|fn)=\((\d+)\)(?: (.*))?$/.exec(line);
    if (named) {
      const table = named[1] === 'ob' ? objects : functions;
      if (named[3]) table.set(named[2], named[3]);
      const name = table.get(named[2]) ?? '';
      if (line.startsWith('ob=')) object = name;
      if (line.startsWith('cfn=')) callee = name;
      if (line.startsWith('fn=')) {
        fn = name;
        where = object === '???' && fn.startsWith('0x') ? 'generated' : 'runtime';
      }
    } else if (line.startsWith('calls=')) {
      call = true;
    } else if (/^[0-9+\-*]/.test(line)) {
      const cost = Number(line.trim().split(/\s+/).at(-1)) || 0;
      if (call) {
        call = false;
        if (GC_ENTRY.test(callee) && !IN_GC.test(fn)) split.gc += cost;
      } else {
        split[where] += cost;
      }
    }
  }
  return { total: split.runtime + split.generated, generated: split.generated, gc: split.gc };
}

const results = [];
for (const spec of serverSpecs(keys.split(','))) {
  rmSync(path.join(OUT_DIR, 'pid'), { force: true });
  const server = await startServer(spec, { timeoutMs: 600_000 });
  try {
    const pid = Number(readFileSync(path.join(OUT_DIR, 'pid'), 'utf8'));
    const set = await openRoomSet(server, 'count', 1, size);
    const run = signals
      ? signalExchanges(set.rooms[0].members, { timeoutMs: 60_000, short })
      : stateChanges(set.rooms[0].members, { timeoutMs: 60_000 });
    // Warm-up back to back, whatever the pace measured: the code is as warm
    // as in a runtime serving many rooms, and stays so from run to run.
    await run(WARM_UP, 0);
    const samples = [];
    for (let b = 0; b < blocks; b++) {
      control(pid, '-z');
      await run(block, pauseMs);
      control(pid, '-d');
      await sleep(200);
      const dump = readdirSync(OUT_DIR).filter((f) => f.startsWith(`cg.${pid}.out.`) && f.endsWith('-01'))
        .sort((x, y) => Number(x.split('.')[3].split('-')[0]) - Number(y.split('.')[3].split('-')[0])).at(-1);
      const counts = readDump(path.join(OUT_DIR, dump));
      samples.push(counts);
      console.log(`${spec.key} block ${b + 1}: ${(counts.total / block / 1000).toFixed(1)}k instructions per message (${(counts.gc / block / 1000).toFixed(1)}k in GC)`);
    }
    closeSet(set);
    results.push({ key: spec.key, samples });
  } finally {
    await server.stop();
  }
}

const k = (n) => `${(n / 1000).toFixed(1)}k`;
/** Per message over all blocks, so collections count as often as they came. */
const perMessage = (r, field) => r.samples.reduce((sum, c) => sum + c[field], 0) / (r.samples.length * block);
const last = results.at(-1);
console.log(`\ninstructions per ${signals ? (short ? 'short signal' : '4 KB signal') : 'state message'}, room of ${size}, ${pauseMs ? `${pauseMs} ms apart` : 'back to back'}, ${blocks} blocks of ${block}`);
for (const r of results) {
  const all = perMessage(r, 'total');
  const gc = perMessage(r, 'gc');
  const ratio = (field) => (perMessage(r, field) / perMessage(last, field)).toFixed(3);
  console.log(`${r.key.padEnd(12)} ${k(all)} (generated code ${k(perMessage(r, 'generated'))}, GC ${k(gc)}; without GC ${k(all - gc)}): ${ratio('total')}x ${last.key}`);
}
process.exit(0);
