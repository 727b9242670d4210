// Fan-out one message at a time, as in a real meeting: in a room of 8, one
// `state` change goes out and all 7 deliveries arrive before the next is
// sent, so the server never handles a batch. The servers take turns in
// blocks, in a fresh order every round; each block's cost is the Worker
// process's CPU (schedstat) divided by its messages. Prints each server's
// median CPU per message and the median of its per-round ratios to the last
// server named, with the quartiles. Two copies of one build come out within
// about 3% of each other.
//
//   node bench/paced.mjs [servers] [rounds] [messages per block]
//   node bench/paced.mjs noom,baseline-js 40 40
//
// Loopback only; bounded by the round count. Each socket stays inside the
// contract's 50 messages per second.
import { serverSpecs, startServer } from './lib/servers.mjs';
import { closeSet, openRoomSet, shuffled, stateChanges } from './lib/load.mjs';
import { median } from './report.mjs';
const [keys = 'noom,baseline-js', roundsArg = '20', blockArg = '40'] = process.argv.slice(2);
const specs = serverSpecs(keys.split(','));
const rounds = Math.max(1, Math.min(200, Number(roundsArg) || 20));
const block = Math.max(8, Math.min(400, Number(blockArg) || 40));
const live = [];
try {
  for (const spec of specs) live.push(await startServer(spec));
  const rooms = new Map();
  for (const s of live) {
    const set = await openRoomSet(s, 'paced', 1, 8);
    rooms.set(s.key, { set, send: stateChanges(set.rooms[0].members) });
  }
  const run = (s, count) => rooms.get(s.key).send(count);
  for (const s of live) await run(s, 200); // warm-up
  const per = Object.fromEntries(live.map((s) => [s.key, []]));
  for (let round = 0; round < rounds; round++) {
    for (const s of shuffled(live)) {
      const before = s.cpu().workerSchedUs;
      await run(s, block);
      per[s.key].push((s.cpu().workerSchedUs - before) / block);
    }
    console.log(`round ${round + 1}: ` + live.map((s) => `${s.key} ${per[s.key].at(-1).toFixed(1)}`).join(' '));
  }
  const last = live.at(-1).key;
  for (const s of live) {
    const ratios = per[s.key].map((v, i) => v / per[last][i]);
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(`${s.key.padEnd(12)} ${median(per[s.key]).toFixed(1)} µs/message  ratio ${median(ratios).toFixed(3)} [q1 ${sorted[Math.floor(sorted.length / 4)].toFixed(3)} q3 ${sorted[Math.floor(3 * sorted.length / 4)].toFixed(3)}]`);
  }
  for (const { set } of rooms.values()) closeSet(set);
} finally {
  await Promise.allSettled(live.map((s) => s.stop()));
}
process.exit(0);
