// Sizes that need no server: the Worker bundles (wasm + JavaScript glue) and
// the static page files, each gzipped at level 9 as a CDN would serve them.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './servers.mjs';

export const gzipSize = (buffer) => gzipSync(buffer, { level: 9 }).length;

function filesUnder(dir, pattern) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(...filesUnder(file, pattern));
    else if (pattern.test(name)) out.push(file);
  }
  return out.sort();
}

function bundle(files) {
  const present = files.map((f) => path.join(ROOT, f)).filter((f) => existsSync(f));
  if (present.length === 0) return null;
  const parts = present.map((f) => {
    const bytes = readFileSync(f);
    return { file: path.relative(ROOT, f), bytes: bytes.length, gzip: gzipSize(bytes) };
  });
  return { parts, bytes: parts.reduce((n, p) => n + p.bytes, 0), gzip: parts.reduce((n, p) => n + p.gzip, 0) };
}

export function measureSizes() {
  return {
    workers: {
      noom: bundle(['build/index.js', 'build/index_bg.wasm', 'src/entry.js']),
      'floor-rust': bundle(['bench/floor-rust/build/index.js', 'bench/floor-rust/build/index_bg.wasm']),
      'baseline-js': bundle(['bench/baseline-js/worker.js']),
      'floor-js': bundle(['bench/floor-js/worker.js']),
    },
    // Every page file in public/ (both pages); the browser run measures what
    // the meeting page actually loads.
    publicFiles: bundle(filesUnder(path.join(ROOT, 'public'), /\.(html|css|js|mjs)$/).map((f) => path.relative(ROOT, f))),
  };
}
