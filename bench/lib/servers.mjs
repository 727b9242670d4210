// The four servers of the benchmark, each under its own `wrangler dev` with
// its own --port, --inspector-port and --persist-to, and a way to read the CPU
// time its workerd processes have used.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WRANGLER, freePort, runWrangler } from '../../tests/support/server.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUN_DIR = path.join(ROOT, 'bench', '.run');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * The servers, in the order the report lists them. `config` is relative to the
 * repository root. Noom's own wrangler.toml runs `make build` first; the bench
 * builds before it starts, so it uses a copy without that step (see noomConfig).
 */
export const SERVERS = [
  { key: 'noom', label: 'Noom (Rust)', contract: true },
  { key: 'baseline-js', label: 'baseline-js', contract: true, config: 'bench/baseline-js/wrangler.toml' },
  { key: 'floor-rust', label: 'floor-rust', contract: false, config: 'bench/floor-rust/wrangler.toml' },
  { key: 'floor-js', label: 'floor-js', contract: false, config: 'bench/floor-js/wrangler.toml' },
];

/**
 * Noom's wrangler.toml with the `[build]` section removed and paths made
 * absolute: the same Worker, vars and bindings `make dev` runs, without
 * wrangler re-running `make build` (the bench target has built it already).
 */
export function noomConfig() {
  const source = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const out = [];
  let inBuild = false;
  for (const line of source.split('\n')) {
    const header = /^\s*\[\[?([^\]]+)\]?\]\s*$/.exec(line);
    if (header) inBuild = header[1].trim() === 'build';
    if (inBuild) continue;
    out.push(line
      .replace(/^(\s*main\s*=\s*)"([^"]+)"/, (_, k, v) => `${k}${JSON.stringify(path.join(ROOT, v))}`)
      .replace(/^(\s*directory\s*=\s*)"([^"]+)"/, (_, k, v) => `${k}${JSON.stringify(path.join(ROOT, v))}`));
  }
  // A directory of its own, as a saved build has (see saveBuild). Written
  // straight into bench/.run, above every server's state directory, the same
  // build measured 6 to 13% more CPU per delivery than a saved copy of itself
  // (bench/notes.md); wrangler keeps its files beside the config, and likely
  // watched every server's SQLite writes there.
  const dir = path.join(RUN_DIR, 'checkout');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'wrangler.toml');
  writeFileSync(file, out.join('\n'));
  return file;
}

/**
 * A copy of Noom's current build (build/ and src/entry.js) kept under
 * bench/.run/builds/<name>, so a later build can be run beside it as a fifth
 * server (`node bench/ab.mjs --save before`, change, `make build`, then
 * `node bench/ab.mjs noom,before ...`).
 */
export function saveBuild(name) {
  const dir = path.join(RUN_DIR, 'builds', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  cpSync(path.join(ROOT, 'build'), path.join(dir, 'build'), { recursive: true });
  cpSync(path.join(ROOT, 'src', 'entry.js'), path.join(dir, 'src', 'entry.js'));
  const config = readFileSync(noomConfig(), 'utf8')
    .replace(/^(\s*main\s*=\s*)"[^"]+"/m, (_, k) => `${k}${JSON.stringify(path.join(dir, 'src', 'entry.js'))}`);
  writeFileSync(path.join(dir, 'wrangler.toml'), config);
}

/** The server specs for these keys: the four of the report, or builds kept with `saveBuild`. */
export function serverSpecs(keys) {
  return keys.map((key) => {
    const known = SERVERS.find((s) => s.key === key);
    if (known) return known;
    const config = path.join(RUN_DIR, 'builds', key, 'wrangler.toml');
    if (!existsSync(config)) throw new Error(`unknown server ${key}: not one of ${SERVERS.map((s) => s.key)} nor a saved build`);
    return { key, label: `Noom (${key})`, contract: true, config: path.relative(ROOT, config) };
  });
}

export { freePort };

/** The wrangler command line for a server (also printed in BENCHMARKS.md). */
export function wranglerArgs({ config, port, inspectorPort, persistTo }) {
  return ['dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(inspectorPort), '--persist-to', persistTo,
    '--log-level', 'warn', '--show-interactive-dev-session=false'];
}

/** Starts one server and waits until `/api/health` answers. */
export async function startServer(spec, { timeoutMs = 120_000 } = {}) {
  const persistTo = path.join(RUN_DIR, 'state', spec.key);
  rmSync(persistTo, { recursive: true, force: true });
  mkdirSync(persistTo, { recursive: true });
  const config = spec.config ? path.join(ROOT, spec.config) : noomConfig();
  let wrangler;
  try {
    wrangler = await runWrangler(({ port, inspectorPort }) => wranglerArgs({ config, port, inspectorPort, persistTo }), { timeoutMs });
  } catch (err) {
    throw new Error(`${spec.key}: ${err.message}`);
  }
  const { child, url, port, args } = wrangler;
  const server = {
    ...spec,
    url,
    wsUrl: url.replace('http', 'ws'),
    port,
    pid: child.pid,
    command: `${path.relative(ROOT, WRANGLER)} ${args.map((a) => path.isAbsolute(a) ? path.relative(ROOT, a) || '.' : a).join(' ')}`,
    logs: wrangler.logs,
    workerdPids: () => workerdPids(child.pid),
    /** Whether that workerd is wrangler's proxy in front of the Worker (see `cpu`). */
    isProxyPid: (pid) => isProxy(pid, port),
    /** The workerd processes running the Worker itself, without the proxy. */
    workerPids: () => workerdPids(child.pid).filter((pid) => !isProxy(pid, port)),
    /**
     * CPU used so far by all of this server's workerd processes (the figure
     * the report uses), and by the one running the Worker itself: wrangler
     * dev puts a proxy workerd on the public port in front of it.
     */
    cpu() {
      const pids = workerdPids(child.pid);
      const all = cpuOf(pids);
      const worker = cpuOf(pids.filter((pid) => !isProxy(pid, port)));
      return { ...all, workerStatUs: worker.statUs, workerSchedUs: worker.schedUs };
    },
    async stop() {
      await wrangler.stop();
      // workerd children normally go with the group; make sure.
      for (const pid of server.lastPids ?? []) killPid(pid);
    },
  };
  server.lastPids = workerdPids(child.pid);
  return server;
}

/** Whether this workerd is wrangler's proxy, the one listening on the server's public port. */
function isProxy(pid, port) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`entry=127.0.0.1:${port}\0`);
  } catch {
    return false;
  }
}

function killPid(pid) {
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/** `{pid: {ppid, comm}}` for every process visible in /proc. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(name), { ppid: Number(fields[1]), comm });
    } catch { /* exited meanwhile */ }
  }
  return table;
}

/** The workerd processes in the process tree under `rootPid`. */
export function workerdPids(rootPid) {
  const table = processTable();
  const children = new Map();
  for (const [pid, { ppid }] of table) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const found = [];
  const stack = [rootPid];
  let guard = 0;
  while (stack.length && guard++ < 10_000) {
    const pid = stack.pop();
    for (const child of children.get(pid) ?? []) {
      if (table.get(child)?.comm === 'workerd') found.push(child);
      stack.push(child);
    }
  }
  return found.sort((a, b) => a - b);
}

/**
 * CPU time used so far by these processes, in microseconds: `ticks` is
 * utime+stime from /proc/<pid>/stat (CLK_TCK resolution), `ns` is the
 * scheduler's run time from /proc/<pid>/task/<tid>/schedstat (nanoseconds;
 * the same user+system time, finer grained), kept as a cross-check.
 */
export function cpuOf(pids) {
  let ticks = 0;
  let ns = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
      }
    } catch { /* gone */ }
  }
  return { statUs: (ticks * 1e6) / CLK_TCK, schedUs: ns / 1000 };
}

export { CLK_TCK };
