// The machine and the versions of everything measured, for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './servers.mjs';

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).toString().trim();
  } catch {
    return 'unavailable';
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

export function machineInfo() {
  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  return {
    nproc: run('nproc', []),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    wrangler: packageVersion('wrangler'),
    workerd: packageVersion('workerd'),
    ws: packageVersion('ws'),
    playwrightCore: packageVersion('playwright-core'),
    chromium: run('/usr/bin/chromium', ['--version']),
    rustc: run('rustc', ['--version']),
    workerBuild: run('worker-build', ['--version']),
    gitCommit: run('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: run('git', ['status', '--porcelain', '--', 'src', 'public', 'bench', 'wrangler.toml']) !== '',
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}
