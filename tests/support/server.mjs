// Starts a real `wrangler dev` for a test and stops it afterwards.
//
// Each server gets its own free HTTP and inspector ports and its own persisted
// state folder, so several can run side by side. It does not build: `make test`
// builds once before the suites run (and the wrangler.toml build step is a no-op
// when nothing changed).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WRANGLER = path.join(ROOT, 'node_modules', '.bin', 'wrangler');

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `wrangler dev`.
 * @param {object} [opts]
 * @param {Record<string,string>} [opts.vars]  extra `--var NAME:VALUE`
 * @param {string} [opts.persistTo]  state folder to reuse (default: a fresh temp folder, removed on stop)
 * @param {string} [opts.config]  another wrangler.toml (default: $NOOM_SERVER_CONFIG, else the project's)
 * @param {number} [opts.timeoutMs]  how long to wait for /api/health
 * @returns {Promise<{url:string, wsUrl:string, port:number, persistTo:string, logs:()=>string, stop:()=>Promise<void>}>}
 */
export async function startServer(opts = {}) {
  const ownState = !opts.persistTo;
  const persistTo = opts.persistTo ?? mkdtempSync(path.join(os.tmpdir(), 'noom-state-'));
  const vars = { ICE_SERVERS: '[]', ...(opts.vars ?? {}) };
  // NOOM_SERVER_CONFIG points every suite at another implementation of the
  // contract (the JavaScript baseline in bench/), so both pass the same tests.
  const config = opts.config ?? process.env.NOOM_SERVER_CONFIG;
  const argsFor = ({ port, inspectorPort }) => {
    const args = [
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', persistTo, '--log-level', opts.logLevel ?? 'warn', '--show-interactive-dev-session=false',
    ];
    if (config) args.push('--config', path.resolve(ROOT, config));
    for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
    return args;
  };
  let wrangler;
  try {
    wrangler = await runWrangler(argsFor, { cwd: opts.cwd, healthPath: opts.healthPath, timeoutMs: opts.timeoutMs });
  } catch (err) {
    if (ownState) rmSync(persistTo, { recursive: true, force: true });
    throw err;
  }
  return {
    url: wrangler.url,
    wsUrl: wrangler.url.replace('http', 'ws'),
    port: wrangler.port,
    persistTo,
    logs: wrangler.logs,
    async stop({ keepState = false } = {}) {
      await wrangler.stop();
      if (ownState && !keepState) rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `wrangler dev` with the arguments `argsFor({port, inspectorPort})`
 * gives for two free ports, and waits until `healthPath` answers. The test
 * servers and the benchmark's (bench/lib/servers.mjs) all start here.
 *
 * A port free a moment ago can be taken before wrangler binds it (workerd
 * itself listens on ports the system picks): then it starts again on new
 * ones, up to three times.
 * @returns {Promise<{child: import('node:child_process').ChildProcess, url: string, port: number,
 *   args: string[], logs: () => string, stop: () => Promise<void>}>}
 */
export async function runWrangler(argsFor, { cwd = ROOT, healthPath = '/api/health', timeoutMs = 90_000 } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const inspectorPort = await freePort();
    try {
      return await runWranglerOnce(argsFor({ port, inspectorPort }), port, { cwd, healthPath, timeoutMs });
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(err.message)) throw err;
    }
  }
}

async function runWranglerOnce(args, port, { cwd, healthPath, timeoutMs }) {
  let output = '';
  const child = spawn(WRANGLER, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      NO_COLOR: '1',
      CI: 'true',
    },
  });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = false;
  child.on('exit', () => { exited = true; });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(url + healthPath, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`wrangler dev did not answer on ${url} in time:\n${output}`);
    }
    await sleep(250);
  }

  return {
    child,
    url,
    port,
    args,
    logs: () => output,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}

function killGroup(child, signal = 'SIGKILL') {
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}
