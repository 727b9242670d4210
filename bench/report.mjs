// Turns a results object (bench/results/results.json) into BENCHMARKS.md and
// the SVG plots. `node bench/report.mjs [results.json]` redraws without rerunning.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVERS, ROOT } from './lib/servers.mjs';
import { COLORS, cdfChart, groupedBars } from './lib/svg.mjs';

const KB = 1000;
const TARGETS = { bundleGzip: 150 * KB, pageGzip: 50 * KB, call2Ms: 1000, call4Ms: 2000 };

// ---- statistics -------------------------------------------------------------------

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}
export const median = (values) => {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const spread = (values) => (values.length ? { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length } : null);

/** A sample counts only if it is complete, error-free and no socket closed; the others are listed, never averaged in. */
export const valid = (s) => s.complete && s.errors === 0 && s.closedSockets === 0;

/** Each round's own p50 of one server's signal latencies (runs from before `roundSizes` was kept have none). */
export function roundP50s(latency) {
  let at = 0;
  return (latency.roundSizes ?? []).map((n) => percentile(latency.samples.slice(at, (at += n)), 50));
}

// ---- formatting ---------------------------------------------------------------------

const f = (v, digits = 2) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits)) : '–');
const kb = (bytes) => (bytes == null ? '–' : `${(bytes / KB).toFixed(1)} KB`);
const range = (s, digits = 2) => (s ? `${f(s.median, digits)} (${f(s.min, digits)}–${f(s.max, digits)})` : '–');
const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : '**not met**');
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

// ---- summary ------------------------------------------------------------------------

export function summarize(results) {
  const keys = Object.keys(results.throughput);
  const workloads = keys.length ? Object.keys(results.throughput[keys[0]]) : [];
  const through = {};
  const flagged = [];
  for (const key of keys) {
    through[key] = {};
    for (const w of workloads) {
      const samples = results.throughput[key][w];
      for (const s of samples) if (!valid(s)) flagged.push({ server: key, workload: w, ...s });
      const ok = samples.filter(valid);
      through[key][w] = {
        cpu: spread(ok.map((s) => s.cpuUsPerDelivery)),
        sched: spread(ok.map((s) => s.schedUsPerDelivery)),
        worker: spread(ok.map((s) => s.workerUsPerDelivery)),
        rate: spread(ok.map((s) => s.deliveriesPerSecond)),
        deliveries: ok[0]?.expected,
      };
    }
  }
  /** Per-round ratios of Noom to another server, on a per-sample figure. */
  const ratios = (other, w, field) => {
    if (!through.noom || !through[other]) return null;
    const mine = results.throughput.noom[w];
    const theirs = results.throughput[other][w];
    const per = [];
    for (const s of mine) {
      const t = theirs.find((x) => x.round === s.round);
      if (t && valid(s) && valid(t) && t[field] > 0) per.push(s[field] / t[field]);
    }
    return spread(per);
  };
  const ratio = {};
  for (const w of workloads) {
    ratio[w] = {};
    for (const other of ['baseline-js', 'floor-rust', 'floor-js']) {
      ratio[w][other] = {
        cpu: ratios(other, w, 'cpuUsPerDelivery'),
        worker: ratios(other, w, 'workerUsPerDelivery'),
        rate: ratios(other, w, 'deliveriesPerSecond'),
      };
    }
  }
  const latency = {};
  const p50sByServer = {};
  for (const [key, l] of Object.entries(results.latency)) p50sByServer[key] = roundP50s(l);
  /**
   * Noom's p50 over another server's, round by round: the same reading of
   * noise as the CPU ratios. Two copies of one build came out 0.7% apart in
   * pooled p50 over 1500 signals each (bench/notes.md), about what one
   * server's p50 moves between runs.
   */
  const latencyRatio = {};
  for (const other of Object.keys(results.latency)) {
    if (other === 'noom') continue;
    const theirs = p50sByServer[other];
    latencyRatio[other] = spread((p50sByServer.noom ?? []).map((v, i) => v / theirs[i]).filter(Number.isFinite));
  }
  for (const [key, l] of Object.entries(results.latency)) {
    const j = results.join[key];
    latency[key] = {
      n: l.samples.length, errors: l.errors + (j?.errors ?? 0),
      p50: percentile(l.samples, 50), p90: percentile(l.samples, 90), p99: percentile(l.samples, 99),
      joinN: j?.joinMs.length ?? 0,
      joinP50: percentile(j?.joinMs ?? [], 50), joinP90: percentile(j?.joinMs ?? [], 90),
      connectP50: percentile(j?.connectMs ?? [], 50),
    };
  }
  const calls = {};
  for (const run of results.browser?.runs ?? []) {
    calls[run.n] ??= { times: [], joinSent: [], failed: 0, playingAtEnd: [], unsettled: 0 };
    if (run.ms === null) {
      calls[run.n].failed += 1;
      if (run.playingAtEnd != null) calls[run.n].playingAtEnd.push(run.playingAtEnd);
    } else {
      calls[run.n].times.push(run.ms);
    }
    if (run.ms !== null && run.joinSentMs != null) calls[run.n].joinSent.push(run.joinSentMs);
    if (!run.settled) calls[run.n].unsettled += 1;
  }
  for (const c of Object.values(calls)) c.median = median(c.times);
  return { workloads, through, ratio, latency, latencyRatio, calls, flagged };
}

// ---- targets ------------------------------------------------------------------------

/**
 * Each of the issue's targets: `true` met, `false` missed, `null` not
 * measured in this run. CPU and p50 are judged by the median of the
 * per-round ratios to the baseline; p50 falls back to the pooled p50s for
 * results from before the rounds were kept. A call's figure is its median
 * over the runs that finished; a call none of whose runs finished is missed.
 */
export function judge(sum, results) {
  const cpuRatios = sum.workloads.map((w) => sum.ratio[w]['baseline-js'].cpu);
  const lat = sum.latency;
  const p50Rounds = sum.latencyRatio['baseline-js'];
  const atMost = (value, limit) => (Number.isFinite(value) ? value <= limit : null);
  // Every run of a call timed out: measured, and missed.
  const call = (n, limit) => (sum.calls[n] && !sum.calls[n].times.length ? false : atMost(sum.calls[n]?.median, limit));
  return {
    cpu: cpuRatios.length && cpuRatios.every((r) => r) ? cpuRatios.every((r) => r.median <= 1) : null,
    p50: p50Rounds ? p50Rounds.median <= 1
      : lat.noom && lat['baseline-js'] ? lat.noom.p50 <= lat['baseline-js'].p50 : null,
    call2: call(2, TARGETS.call2Ms),
    call4: call(4, TARGETS.call4Ms),
    bundle: atMost(results.sizes?.workers?.noom?.gzip, TARGETS.bundleGzip),
    page: atMost(results.browser?.page?.gzip, TARGETS.pageGzip),
  };
}

// ---- plots --------------------------------------------------------------------------

function plots(results, sum, dir, rel) {
  const present = SERVERS.filter((s) => results.throughput[s.key]);
  const series = present.map((s) => ({ name: s.label, color: COLORS[s.key] }));
  const files = {};
  const write = (name, svg) => {
    writeFileSync(path.join(dir, name), svg);
    files[name] = `${rel}/${name}`;
  };
  const allLat = present.flatMap((s) => results.latency[s.key]?.samples ?? []);
  write('latency-signal.svg', cdfChart({
    title: 'One-way signal latency (idle server, loopback)',
    xLabel: 'milliseconds from send to arrival (cut at the overall p99)',
    series: present.map((s) => ({ name: s.label, color: COLORS[s.key], values: results.latency[s.key]?.samples ?? [] })),
    xMax: percentile(allLat, 99),
  }));
  const contract = present.filter((s) => s.contract);
  const allJoin = contract.flatMap((s) => results.join[s.key]?.joinMs ?? []);
  write('latency-join.svg', cdfChart({
    title: 'Join time: socket open to welcome',
    xLabel: 'milliseconds',
    series: contract.map((s) => ({ name: s.label, color: COLORS[s.key], values: results.join[s.key]?.joinMs ?? [] })),
    xMax: Math.max(...allJoin, 1),
  }));
  const groups = sum.workloads;
  write('cpu-per-delivery.svg', groupedBars({
    title: 'Server CPU per delivery (all workerd processes of each wrangler dev)',
    yLabel: 'µs of CPU per delivered frame',
    groups, series,
    values: groups.map((w) => present.map((s) => sum.through[s.key][w].cpu)),
    note: 'bar: median over rounds; whisker: min–max. Lower is better.',
  }));
  write('cpu-per-delivery-worker.svg', groupedBars({
    title: 'CPU per delivery, Worker process only (without wrangler\'s proxy)',
    yLabel: 'µs of CPU per delivered frame',
    groups, series,
    values: groups.map((w) => present.map((s) => sum.through[s.key][w].worker)),
    note: 'bar: median over rounds; whisker: min–max. Lower is better.',
  }));
  write('throughput.svg', groupedBars({
    title: 'Deliveries per second (burst, shared 2-core machine)',
    yLabel: 'delivered frames per second',
    groups, series,
    values: groups.map((w) => present.map((s) => sum.through[s.key][w].rate)),
    note: 'bar: median over rounds; whisker: min–max. Higher is better.',
  }));
  if (Object.keys(sum.calls).length) {
    const ns = Object.keys(sum.calls);
    write('call-setup.svg', groupedBars({
      title: 'Call set-up: navigation to every remote video playing',
      yLabel: 'milliseconds',
      groups: ns.map((n) => `${n} participants`),
      series: [{ name: 'Noom', color: COLORS.noom }],
      values: ns.map((n) => [spread(sum.calls[n].times)]),
      note: 'bar: median of runs; whisker: min–max.',
    }));
  }
  return files;
}

// ---- history (before/after) ---------------------------------------------------------------

function recordHistory(results, sum, file) {
  const history = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  const entry = {
    date: results.startedAt, commit: results.machine.gitCommit, dirty: results.machine.gitDirty,
    label: process.env.BENCH_LABEL ?? '', rounds: results.rounds,
    cpuNoomUs: Object.fromEntries(sum.workloads.map((w) => [w, sum.through.noom?.[w]?.cpu?.median ?? null])),
    noomOverBaseline: Object.fromEntries(sum.workloads.map((w) => [w, sum.ratio[w]['baseline-js'].cpu?.median ?? null])),
    p50Ms: Object.fromEntries(Object.entries(sum.latency).map(([k, l]) => [k, l.p50])),
    bundleGzip: results.sizes.workers.noom?.gzip ?? null,
    pageGzip: results.browser?.page?.gzip ?? null,
  };
  if (process.env.BENCH_NO_HISTORY === '1') return history;
  history.push(entry);
  writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
  return history;
}

// ---- the report -------------------------------------------------------------------------------

export function writeReport(results) {
  const sum = summarize(results);
  const quick = results.quick;
  const outDir = quick ? path.join(ROOT, 'bench', 'results', 'quick') : path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const reportFile = quick ? path.join(outDir, 'BENCHMARKS.md') : path.join(ROOT, 'BENCHMARKS.md');
  const rel = path.relative(path.dirname(reportFile), outDir) || '.';
  const svg = plots(results, sum, outDir, rel);
  const history = recordHistory(results, sum, path.join(outDir, 'history.json'));
  const present = SERVERS.filter((s) => results.throughput[s.key]);
  const m = results.machine;
  const page = results.browser?.page;
  const noomBundle = results.sizes.workers.noom;
  const lat = sum.latency;
  const out = [];

  out.push(`# Noom benchmarks${quick ? ' (quick smoke run)' : ''}`, '');
  out.push(`Written by \`${quick ? 'BENCH_QUICK=1 make bench' : 'make bench'}\` on ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC `
    + `(${results.rounds} rounds, ${Math.round(results.durationSeconds / 60)} min), commit \`${m.gitCommit}\`${m.gitDirty ? ' with uncommitted changes' : ''}. `
    + 'Everything ran on this one machine, over loopback only. These are benchmarks, not tests: nothing in `make test` depends on them, and the targets below are reported, not asserted.', '');

  // -- targets
  const judged = judge(sum, results);
  const p50Rounds = sum.latencyRatio['baseline-js'];
  const c2 = sum.calls[2]?.median; const c4 = sum.calls[4]?.median;
  out.push('## Targets', '');
  out.push(table(['target', 'measured', ''], [
    ['server CPU per delivery ≤ baseline, every workload', sum.workloads.map((w) => `${w} ${f(sum.ratio[w]['baseline-js'].cpu?.median)}×`).join(', '), verdict(judged.cpu)],
    ['p50 signal latency ≤ baseline', lat.noom ? `${f(lat.noom.p50, 3)} ms vs ${f(lat['baseline-js']?.p50, 3)} ms`
      + `${p50Rounds ? `; per round ${f(p50Rounds.median, 3)}× (${f(p50Rounds.min, 3)}–${f(p50Rounds.max, 3)})` : ''}` : '–', verdict(judged.p50)],
    ['remote video playing within 1 s, 2 participants', c2 ? `${f(c2, 0)} ms (median)` : '–', verdict(judged.call2)],
    ['remote video playing within 2 s, 4 participants', c4 ? `${f(c4, 0)} ms (median)` : '–', verdict(judged.call4)],
    ['Worker bundle (wasm + glue) ≤ 150 KB gzipped', kb(noomBundle?.gzip), verdict(judged.bundle)],
    ['page (HTML + CSS + JS) ≤ 50 KB gzipped', kb(page?.gzip), verdict(judged.page)],
  ]), '');
  out.push('KB = 1000 bytes. Ratios are Noom divided by the other server: below 1 means Noom used less CPU per delivered frame.', '');

  // -- what was changed to move the figures (written by hand, kept with the bench)
  const notes = path.join(ROOT, 'bench', 'notes.md');
  if (existsSync(notes)) out.push(readFileSync(notes, 'utf8').trim(), '');

  // -- relay ratios
  out.push('## Server CPU per delivery: Noom against the others', '');
  out.push('Median of the per-round ratios (min–max in brackets). CPU is the user+system time of all the server\'s workerd processes; '
    + 'the second table leaves out the proxy workerd that `wrangler dev` puts in front of every Worker (the same for all four servers), '
    + 'so it shows the Worker\'s own cost more sharply.', '');
  const ratioRows = (field) => sum.workloads.map((w) => [w,
    range(sum.ratio[w]['baseline-js'][field]), range(sum.ratio[w]['floor-rust'][field]), range(sum.ratio[w]['floor-js'][field])]);
  out.push(table(['workload', 'Noom / baseline-js', 'Noom / floor-rust', 'Noom / floor-js'], ratioRows('cpu')), '');
  out.push('Worker process only:', '');
  out.push(table(['workload', 'Noom / baseline-js', 'Noom / floor-rust', 'Noom / floor-js'], ratioRows('worker')), '');
  out.push(`![CPU per delivery](${svg['cpu-per-delivery.svg']})`, '');
  out.push(`![CPU per delivery, Worker process only](${svg['cpu-per-delivery-worker.svg']})`, '');

  // -- absolute throughput figures
  out.push('## Throughput workloads', '');
  out.push('Many rooms at once; every socket sends its whole share at once but never more than the contract allows '
    + '(any message: burst 200 then 50/s; chat: burst 10 then 2/s), and waits for its buckets to refill before its next burst. '
    + 'A burst ends at the last expected delivery. Figures: median (min–max) over rounds.', '');
  const wl = results.workloadsInfo ?? [];
  out.push(table(['workload', 'layout', 'frames delivered per burst'], sum.workloads.map((w) => {
    const info = wl.find((x) => x.key === w);
    return [w, info ? `${info.title}: ${info.rooms} rooms × ${info.size}, ${info.perSocket} messages per socket` : '', present.map((s) => `${s.key} ${sum.through[s.key][w].deliveries ?? '–'}`).join(', ')];
  })), '');
  out.push('CPU µs per delivery (all workerd processes):', '');
  out.push(table(['workload', ...present.map((s) => s.label)], sum.workloads.map((w) => [w, ...present.map((s) => range(sum.through[s.key][w].cpu))])), '');
  out.push('CPU µs per delivery, Worker process only:', '');
  out.push(table(['workload', ...present.map((s) => s.label)], sum.workloads.map((w) => [w, ...present.map((s) => range(sum.through[s.key][w].worker))])), '');
  out.push('Deliveries per second (the load generator shares the 2 cores, so this is the whole machine\'s capacity, not the server\'s alone):', '');
  out.push(table(['workload', ...present.map((s) => s.label)], sum.workloads.map((w) => [w, ...present.map((s) => range(sum.through[s.key][w].rate, 0))])), '');
  out.push(`![Deliveries per second](${svg['throughput.svg']})`, '');
  if (sum.flagged.length) {
    out.push('**Samples left out** (an `error` frame, a missing delivery or a closed socket):', '');
    out.push(table(['server', 'workload', 'round', 'delivered / expected', 'error frames', 'closed sockets', 'first error'],
      sum.flagged.map((s) => [s.server, s.workload, s.round + 1, `${s.delivered} / ${s.expected}`, s.errors, s.closedSockets, `\`${(s.errorSamples?.[0] ?? '').slice(0, 80)}\``])), '');
  } else {
    out.push('Every sample was complete: no `error` frame, no missing delivery, no closed socket.', '');
  }

  // -- latency
  out.push('## Latency', '');
  out.push('One-way `signal` latency on an idle server: one pair per server, one signal at a time, alternating direction, timed in the load generator from send to arrival; the servers take turns signal by signal, so machine noise falls on all of them alike. '
    + 'Join time: a fresh socket in a room of 0 to 7 peers, from sending `join` to receiving `welcome` (the floors send no welcome). '
    + 'Connect: the WebSocket handshake.', '');
  out.push(table(['server', 'signals', 'p50 ms', 'p90 ms', 'p99 ms', 'joins', 'join p50 ms', 'join p90 ms', 'connect p50 ms', 'errors'],
    present.map((s) => {
      const l = lat[s.key];
      return [s.label, l.n, f(l.p50, 3), f(l.p90, 3), f(l.p99, 3), l.joinN || '–', s.contract ? f(l.joinP50, 2) : '–', s.contract ? f(l.joinP90, 2) : '–', f(l.connectP50, 2), l.errors];
    })), '');
  const againstRounds = present.filter((s) => sum.latencyRatio[s.key]);
  if (againstRounds.length) {
    out.push(`Noom's p50 over each other server's, round by round (${sum.latencyRatio[againstRounds[0].key].n} rounds of `
      + `${results.latency.noom.roundSizes[0]} signals each): the median ratio and its range. `
      + 'Below 1 means Noom was faster. Pooled p50s this close are within the noise: two copies of one build came out 0.7% apart.', '');
    out.push(table(['Noom / server', 'p50 ratio, median', 'min', 'max'],
      againstRounds.map((s) => { const r = sum.latencyRatio[s.key]; return [s.label, `${f(r.median, 3)}×`, f(r.min, 3), f(r.max, 3)]; })), '');
  }
  out.push(`![Signal latency](${svg['latency-signal.svg']})`, '');
  out.push(`![Join time](${svg['latency-join.svg']})`, '');

  // -- browser
  out.push('## Call set-up in a browser', '');
  if (results.browser?.runs) {
    out.push('Headless Chromium with a fake camera and microphone, in a loopback-only network namespace, against Noom. '
      + 'For N participants, N−1 are already in the room, see each other and have been talking for 3 s (a call under way); '
      + 'the figure is the last one\'s time from navigation '
      + '(the page\'s time origin) to every remote `<video>` playing (frames decoded, not paused), sampled every 10 ms in the page. '
      + '"Join sent" is when that page sent its `join` (its code loaded and its camera open); the rest is signaling, ICE and the first frames. '
      + 'One unmeasured call of two warms the browser up first. Every participant is a Chromium page on this same 2-core machine, '
      + 'encoding its camera once per other participant, so the larger calls measure the machine as much as the app.', '');
    out.push(table(['participants', 'median ms', 'join sent, median ms', 'runs (ms)', 'target'], Object.entries(sum.calls).map(([n, c]) => [n, f(c.median, 0),
      c.joinSent.length ? f(median(c.joinSent), 0) : '–',
      [c.times.map((t) => Math.round(t)).join(', '), c.failed ? `${c.failed} did not finish in ${n >= 8 ? 90 : 45} s`
        + `${c.playingAtEnd.length ? ` (remote videos playing then: ${c.playingAtEnd.map((k) => `${k} of ${n - 1}`).join(', ')})` : ''}` : '',
        c.unsettled ? `${c.unsettled} started before the others had all seen each other` : ''].filter(Boolean).join('; '),
      n === '2' ? '≤ 1000' : n === '4' ? '≤ 2000' : '–'])), '');
    if (svg['call-setup.svg']) out.push(`![Call set-up](${svg['call-setup.svg']})`, '');
  } else {
    out.push(`Not measured: ${results.browser?.error ?? 'skipped (--no-browser)'}.`, '');
  }

  // -- sizes
  out.push('## Size', '');
  const w = results.sizes.workers;
  out.push(table(['Worker', 'files', 'bytes', 'gzipped'], Object.entries(w).filter(([, b]) => b).map(([k, b]) => [k, b.parts.map((p) => `\`${p.file}\``).join(' + '), b.bytes, kb(b.gzip)])), '');
  if (page) {
    out.push(`The meeting page as Chromium loaded it: ${page.files.length} HTML/CSS/JS files, ${page.bytes} bytes, **${kb(page.gzip)} gzipped** (each file gzipped at level 9). `
      + `It made **${page.requests} requests**: ${page.httpRequests} HTTP and ${page.webSockets} WebSocket.`, '');
    out.push('<details><summary>requests</summary>', '', ...page.requestList.map((r) => `- \`${r}\``), '', '</details>', '');
  }
  if (results.sizes.publicFiles) out.push(`All of \`public/\` (both pages' HTML, CSS and JS): ${results.sizes.publicFiles.bytes} bytes, ${kb(results.sizes.publicFiles.gzip)} gzipped.`, '');

  // -- history
  out.push('## Before and after', '');
  out.push(`Every run appends its headline figures to \`${path.relative(ROOT, path.join(outDir, 'history.json'))}\` (set \`BENCH_LABEL\` to name a run, e.g. \`BENCH_LABEL="before: X" make bench\`).`, '');
  out.push(table(['date', 'commit', 'label', ...sum.workloads.map((x) => `${x} Noom µs (×baseline)`), 'p50 Noom ms', 'bundle', 'page'],
    history.slice(-12).map((h) => [h.date.slice(0, 16).replace('T', ' '), `${h.commit}${h.dirty ? '+' : ''}`, h.label || '',
      ...sum.workloads.map((x) => `${f(h.cpuNoomUs[x])} (${f(h.noomOverBaseline[x])})`), f(h.p50Ms.noom, 3), kb(h.bundleGzip), kb(h.pageGzip)])), '');

  // -- machine and commands
  out.push('## Machine', '');
  out.push(table(['', ''], [
    ['CPUs (`nproc`)', `${m.nproc} (shared with other work; load average at start ${m.loadAverage})`], ['CPU model', m.cpuModel], ['memory', m.memory],
    ['kernel', m.kernel], ['Node', m.node], ['wrangler', m.wrangler], ['workerd', m.workerd], ['ws', m.ws], ['playwright-core', m.playwrightCore],
    ['Chromium', m.chromium], ['rustc', m.rustc], ['worker-build', m.workerBuild],
  ]), '');
  out.push('Idle CPU of each server before the run (µs per second, all workerd processes): '
    + present.map((s) => `${s.key} ${f(results.servers[s.key]?.idleCpuUsPerSecond, 0)}`).join(', ') + '.', '');
  out.push('## Exact commands', '');
  out.push('```sh', quick ? 'BENCH_QUICK=1 make bench' : 'make bench', '# which runs, after building Noom, floor-rust and installing Chromium:',
    `node bench/run.mjs${quick ? ' --quick' : ''}`, '# each server:', ...present.map((s) => results.commands[s.key]),
    '# the browser part, in its own network namespace with only loopback:',
    `unshare --net bash -c 'ip link set lo up && exec node bench/browser.mjs${quick ? ' --quick' : ''} --out bench/.run/browser.json'`,
    '```', '');
  out.push('## How it is measured', '');
  out.push([
    '- **Servers.** Noom runs from the project\'s `wrangler.toml` (copied to `bench/.run/checkout/` without its `[build]` step, which `make bench` has already done). '
      + '`bench/baseline-js/` is the whole contract in plain JavaScript and passes the same contract suite '
      + '(`NOOM_SERVER_CONFIG=bench/baseline-js/wrangler.toml node --test --test-concurrency=1 tests/contract/`). '
      + '`bench/floor-js/` and `bench/floor-rust/` forward a joined socket\'s frames, as they came, to the room\'s other sockets: not the contract, the physical limit. Like Noom and the baseline they have an `[assets]` section, so wrangler\'s asset router sits before each of the four alike. '
      + 'All four run side by side, each under its own `wrangler dev` with its own port, inspector port and `--persist-to`.',
    '- **CPU.** utime+stime from `/proc/<pid>/stat` (CLK_TCK ticks) of the workerd processes under that server\'s wrangler process, read just before a burst and 250 ms after its last delivery (so work a server leaves for just after the burst, such as Noom\'s write-behind, is counted), divided by the frames delivered. '
      + 'The scheduler\'s nanosecond run time (`/proc/<pid>/task/*/schedstat`) is recorded beside it in the JSON as a cross-check; the Worker-only figures use it.',
    '- **Rounds.** A warm-up pass first, then in each round every server runs each workload back to back, in alternating order (forward, then backward). '
      + 'Ratios are taken within a round, so slow drifts of the shared machine cancel out.',
    '- **Errors.** Every frame carrying `"type":"error"` is counted; a sample with one, a missing delivery or a closed socket is listed above and left out of every median.',
    '- **Caveats.** Two shared cores run the servers and the load generator together; `wrangler dev` is not production workerd (its proxy adds a hop). '
      + 'Compare figures within one run; across runs, only the ratios travel well.',
  ].join('\n'), '');
  out.push(`Raw data: \`${path.relative(ROOT, path.join(outDir, 'results.json'))}\`. Redraw without rerunning: \`node bench/report.mjs${quick ? ' --quick' : ''}\`.`, '');
  writeFileSync(reportFile, `${out.join('\n')}\n`);
  return reportFile;
}

// `node bench/report.mjs [--quick]`: redraw from the saved results (no history entry is added twice).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const file = path.join(ROOT, 'bench', 'results', ...(quick ? ['quick'] : []), 'results.json');
  process.env.BENCH_NO_HISTORY = '1';
  console.log(writeReport(JSON.parse(readFileSync(file, 'utf8'))));
}
