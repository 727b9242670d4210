// bench/report.mjs, the arithmetic behind BENCHMARKS.md's verdicts: which
// samples count, how per-round ratios are taken, and when a target is met.
// The bench itself is too slow for `make test`; its reading of the figures
// is not, and a slip there (a failed call read as a 0 ms median, say) would
// publish a met target that was missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, median, percentile, summarize } from '../../bench/report.mjs';

/** One throughput sample: complete and clean unless told otherwise. */
const sample = (round, cpu, extra = {}) => ({
  round, cpuUsPerDelivery: cpu, schedUsPerDelivery: cpu, workerUsPerDelivery: cpu / 2, deliveriesPerSecond: 1000,
  complete: true, errors: 0, closedSockets: 0, delivered: 10, expected: 10, ...extra,
});

/** A run's results with the given CPU figures per round, Noom against the baseline. */
function results({ noom = [100, 100, 100], baseline = [100, 100, 100], latency, calls = [], sizes, page } = {}) {
  const through = (cpus) => ({ 'fanout-2': cpus.map((c, round) => (typeof c === 'object' ? c : sample(round, c))) });
  return {
    throughput: { noom: through(noom), 'baseline-js': through(baseline) },
    latency: latency ?? {
      noom: { samples: [1, 1, 1], errors: 0 },
      'baseline-js': { samples: [1, 1, 1], errors: 0 },
    },
    join: {},
    browser: { runs: calls, page },
    sizes: { workers: { noom: sizes } },
  };
}

test('percentile and median read sorted values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 99), 5);
});

test('CPU ratios are taken round by round and judged by their median', () => {
  const sum = summarize(results({ noom: [90, 120, 95], baseline: [100, 100, 100] }));
  const cpu = sum.ratio['fanout-2']['baseline-js'].cpu;
  assert.deepEqual(cpu, { median: 0.95, min: 0.9, max: 1.2, n: 3 });
  assert.equal(judge(sum, {}).cpu, true);
  const worse = summarize(results({ noom: [101, 120, 95], baseline: [100, 100, 100] }));
  assert.equal(judge(worse, {}).cpu, false);
});

test('a sample with an error frame, a missing delivery or a closed socket is listed and left out', () => {
  const sum = summarize(results({
    noom: [90, sample(1, 1, { errors: 1 }), sample(2, 1, { delivered: 9, complete: false })],
    baseline: [100, 100, sample(2, 100, { closedSockets: 1 })],
  }));
  assert.deepEqual(sum.flagged.map((s) => [s.server, s.round]), [['noom', 1], ['noom', 2], ['baseline-js', 2]]);
  // Only round 0 has a clean pair; the bad samples' cheap figures are not in any median.
  assert.deepEqual(sum.ratio['fanout-2']['baseline-js'].cpu, { median: 0.9, min: 0.9, max: 0.9, n: 1 });
  assert.equal(sum.through.noom['fanout-2'].cpu.median, 90);
});

test('no clean pair in a workload leaves the CPU target not measured', () => {
  const sum = summarize(results({ noom: [sample(0, 1, { errors: 2 })], baseline: [100] }));
  assert.equal(sum.ratio['fanout-2']['baseline-js'].cpu, null);
  assert.equal(judge(sum, {}).cpu, null);
});

test('p50 latency is judged per round when the rounds were kept, else pooled', () => {
  const perRound = summarize(results({
    latency: {
      // Round p50s: Noom 1.0, 3.0; baseline 2.0, 2.0. Pooled, Noom is ahead; per round, 0.5 and 1.5.
      noom: { samples: [1, 1, 1, 3, 3, 3], roundSizes: [3, 3], errors: 0 },
      'baseline-js': { samples: [2, 2, 2, 2, 2, 2], roundSizes: [3, 3], errors: 0 },
    },
  }));
  assert.deepEqual(perRound.latencyRatio['baseline-js'], { median: 1, min: 0.5, max: 1.5, n: 2 });
  assert.equal(judge(perRound, {}).p50, true);

  const slower = summarize(results({
    latency: {
      noom: { samples: [2.1, 2.1, 2, 2], roundSizes: [2, 2], errors: 0 },
      'baseline-js': { samples: [2, 2, 2, 2], roundSizes: [2, 2], errors: 0 },
    },
  }));
  assert.equal(judge(slower, {}).p50, false, 'rounds at 1.05 and 1.0: median 1.025');

  const pooled = summarize(results({
    latency: { noom: { samples: [1, 2, 3], errors: 0 }, 'baseline-js': { samples: [2, 3, 4], errors: 0 } },
  }));
  assert.equal(pooled.latencyRatio['baseline-js'], null);
  assert.equal(judge(pooled, {}).p50, true);
});

test('a call that did not finish is counted as failed, never as a time', () => {
  const sum = summarize(results({
    calls: [
      { n: 2, ms: 800, joinSentMs: 300, settled: true },
      { n: 2, ms: 1200, joinSentMs: 400, settled: true },
      { n: 2, ms: 900, joinSentMs: 350, settled: true },
      { n: 4, ms: null, settled: true, playingAtEnd: 2 },
      { n: 4, ms: null, settled: false },
      { n: 4, ms: 1900, joinSentMs: 600, settled: true },
    ],
  }));
  assert.deepEqual(sum.calls[2].times, [800, 1200, 900]);
  assert.equal(sum.calls[2].median, 900);
  assert.deepEqual(sum.calls[4].times, [1900]);
  assert.equal(sum.calls[4].failed, 2);
  assert.deepEqual(sum.calls[4].playingAtEnd, [2]);
  assert.equal(sum.calls[4].unsettled, 1);
  const judged = judge(sum, {});
  assert.equal(judged.call2, true);
  assert.equal(judged.call4, true);
});

test('call targets: at the limit is met, above it missed, all runs timed out missed, none run not measured', () => {
  const runs = (n, ...times) => times.map((ms) => ({ n, ms, settled: true }));
  assert.equal(judge(summarize(results({ calls: runs(2, 1000) })), {}).call2, true);
  assert.equal(judge(summarize(results({ calls: runs(2, 1001) })), {}).call2, false);
  assert.equal(judge(summarize(results({ calls: runs(4, 1500, 2600, 2100) })), {}).call4, false, 'median 2100 ms');
  assert.equal(judge(summarize(results({ calls: runs(4, 1500, 2600, 2000) })), {}).call4, true, 'median 2000 ms');
  const timedOut = judge(summarize(results({ calls: runs(4, null, null) })), {});
  assert.equal(timedOut.call4, false);
  assert.equal(timedOut.call2, null);
});

test('size targets: 150 KB for the Worker bundle and 50 KB for the page, gzipped, KB = 1000 bytes', () => {
  const sum = summarize(results());
  const sized = (bundle, page) => judge(sum, { sizes: { workers: { noom: { gzip: bundle } } }, browser: { page: { gzip: page } } });
  assert.deepEqual([sized(150_000, 50_000).bundle, sized(150_000, 50_000).page], [true, true]);
  assert.deepEqual([sized(150_001, 50_001).bundle, sized(150_001, 50_001).page], [false, false]);
  assert.deepEqual([judge(sum, { sizes: { workers: {} } }).bundle, judge(sum, {}).page], [null, null]);
});
