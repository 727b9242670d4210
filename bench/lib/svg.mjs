// Small SVG charts written by hand: cumulative distributions and grouped bars
// with min-max whiskers. Plain text files, readable in any browser or on GitHub.

export const COLORS = {
  noom: '#d9480f', 'baseline-js': '#1971c2', 'floor-rust': '#2f9e44', 'floor-js': '#868e96',
};
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** About five round tick values from 0 to at least `max`. */
function ticks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= max + step * 0.999 && out.length < 12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

function frame(width, height, title, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;
}

function legend(series, x, y) {
  return series.map((s, i) => `<rect x="${x}" y="${y + i * 18}" width="12" height="12" fill="${s.color}"/>`
    + `<text x="${x + 18}" y="${y + i * 18 + 10}">${esc(s.name)}</text>`).join('\n');
}

/**
 * Cumulative distribution of each series' values (x: value, y: share of
 * samples at or below it), cut at `xMax`.
 */
export function cdfChart({ title, xLabel, series, xMax }) {
  const W = 720; const H = 380; const L = 60; const R = 170; const T = 40; const B = 50;
  const pw = W - L - R; const ph = H - T - B;
  const max = xMax ?? Math.max(...series.flatMap((s) => s.values));
  const xt = ticks(max).filter((t, i, all) => i === 0 || all[i - 1] < max);
  const xs = (v) => L + (Math.min(v, xt[xt.length - 1]) / xt[xt.length - 1]) * pw;
  const ys = (p) => T + ph - p * ph;
  let body = '';
  for (const t of xt) body += `<line x1="${xs(t)}" y1="${T}" x2="${xs(t)}" y2="${T + ph}" stroke="#eee"/><text x="${xs(t)}" y="${T + ph + 16}" text-anchor="middle">${t}</text>\n`;
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 1]) body += `<line x1="${L}" y1="${ys(p)}" x2="${L + pw}" y2="${ys(p)}" stroke="#eee"/><text x="${L - 6}" y="${ys(p) + 4}" text-anchor="end">${Math.round(p * 100)}%</text>\n`;
  for (const s of series) {
    const v = [...s.values].sort((a, b) => a - b);
    if (v.length === 0) continue;
    const step = Math.max(1, Math.floor(v.length / 400));
    const pts = [];
    for (let i = 0; i < v.length; i += step) pts.push(`${xs(v[i]).toFixed(1)},${ys((i + 1) / v.length).toFixed(1)}`);
    pts.push(`${xs(v[v.length - 1]).toFixed(1)},${ys(1).toFixed(1)}`);
    body += `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>\n`;
  }
  body += `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>\n`;
  body += `<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>\n`;
  body += legend(series, L + pw + 16, T + 10);
  return frame(W, H, title, body);
}

/**
 * Grouped bars: one group per category, one bar per series, each bar the
 * median with a min-max whisker. `values[g][s]` is `{median, min, max}` or null.
 */
export function groupedBars({ title, yLabel, groups, series, values, note }) {
  const W = 760; const H = 400; const L = 70; const R = 160; const T = 40; const B = 70;
  const pw = W - L - R; const ph = H - T - B;
  const max = Math.max(1e-9, ...values.flat().filter(Boolean).map((v) => v.max));
  const yt = ticks(max);
  const top = yt[yt.length - 1];
  const ys = (v) => T + ph - (v / top) * ph;
  const gw = pw / groups.length;
  const bw = Math.min(28, (gw * 0.8) / series.length);
  let body = '';
  for (const t of yt) body += `<line x1="${L}" y1="${ys(t)}" x2="${L + pw}" y2="${ys(t)}" stroke="#eee"/><text x="${L - 6}" y="${ys(t) + 4}" text-anchor="end">${t}</text>\n`;
  groups.forEach((g, gi) => {
    const x0 = L + gi * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const v = values[gi][si];
      if (!v) return;
      const x = x0 + si * bw;
      body += `<rect x="${x.toFixed(1)}" y="${ys(v.median).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(T + ph - ys(v.median)).toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name}, ${g}: ${v.median.toPrecision(3)} (${v.min.toPrecision(3)}–${v.max.toPrecision(3)})`)}</title></rect>\n`;
      const cx = x + (bw - 2) / 2;
      body += `<line x1="${cx.toFixed(1)}" y1="${ys(v.min).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${ys(v.max).toFixed(1)}" stroke="#222"/>\n`;
    });
    body += `<text x="${(L + gi * gw + gw / 2).toFixed(1)}" y="${T + ph + 16}" text-anchor="middle">${esc(g)}</text>\n`;
  });
  body += `<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="#999"/>\n`;
  body += `<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>\n`;
  if (note) body += `<text x="${L}" y="${H - 12}" fill="#555">${esc(note)}</text>\n`;
  body += legend(series, L + pw + 16, T + 10);
  return frame(W, H, title, body);
}
