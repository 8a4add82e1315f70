// loss.svg: the loss curve of a run as a self-contained SVG — the loss of every update (faint), its centred
// moving average (solid; centred, so it does not lag behind a falling loss), the validation loss (points), and a
// dashed line where each stage begins.
import type { LogEntry } from './log.js';

const W = 760;
const H = 380;
const M = { left: 64, right: 24, top: 40, bottom: 48 };
const COLOURS = { raw: '#9ecae1', smooth: '#08519c', val: '#e6550d', axis: '#444', grid: '#e5e5e5', stage: '#999' };

/** Half-width of the moving average's window for a curve of `n` updates: about 1/50 of the curve each side. */
const halfWindow = (n: number): number => Math.floor(n / 50);

export function lossChart(entries: readonly LogEntry[], title = 'training loss'): string {
  const steps = entries.filter((e) => e.type === 'step' && Number.isFinite(e.loss));
  const vals = entries.filter((e) => e.type === 'val' && Number.isFinite(e.val_loss));
  const xs = [...steps, ...vals].map((e) => e.global_step);
  const ys = [...steps.map((e) => (e.type === 'step' ? e.loss : 0)), ...vals.map((e) => (e.type === 'val' ? e.val_loss : 0))];
  const xMax = Math.max(1, ...xs);
  const yTicks = niceTicks(0, Math.max(1e-9, ...ys));
  const yMax = yTicks[yTicks.length - 1];
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / yMax) * (H - M.top - M.bottom);
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
  ];
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="${COLOURS.grid}"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(py(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of niceTicks(0, xMax).filter((t) => t <= xMax)) {
    out.push(`<text x="${f(px(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="${COLOURS.axis}"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="${COLOURS.axis}"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">update</text>`);
  out.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">cross-entropy (answer tokens)</text>`);

  // Stage boundaries: where a stage's first update lies.
  let stage = '';
  for (const e of steps) {
    if (e.stage === stage) continue;
    stage = e.stage;
    const x = f(px(e.global_step - 1));
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="${COLOURS.stage}" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${Number(x) + 4}" y="${M.top + 12}" fill="${COLOURS.stage}">stage ${escape(stage)}</text>`);
  }

  const points = (pts: [number, number][]) => pts.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ');
  const raw: [number, number][] = steps.map((e) => [e.global_step, e.type === 'step' ? e.loss : 0]);
  const w = halfWindow(raw.length);
  const prefix = [0];
  for (const [, y] of raw) prefix.push(prefix[prefix.length - 1] + y);
  const smooth = raw.map(([x], i): [number, number] => {
    const [lo, hi] = [Math.max(0, i - w), Math.min(raw.length, i + w + 1)];
    return [x, (prefix[hi] - prefix[lo]) / (hi - lo)];
  });
  if (raw.length) {
    out.push(`<polyline fill="none" stroke="${COLOURS.raw}" stroke-width="1" points="${points(raw)}"/>`);
    out.push(`<polyline fill="none" stroke="${COLOURS.smooth}" stroke-width="2" points="${points(smooth)}"/>`);
  }
  for (const e of vals) if (e.type === 'val') out.push(`<circle cx="${f(px(e.global_step))}" cy="${f(py(e.val_loss))}" r="3.5" fill="${COLOURS.val}"/>`);

  const legend: [string, string][] = [
    [COLOURS.raw, 'loss per update'],
    [COLOURS.smooth, 'moving average'],
    ...(vals.length ? [[COLOURS.val, 'validation'] as [string, string]] : []),
  ];
  legend.forEach(([colour, text], i) => {
    const x = W - M.right - 150;
    const y = M.top + 12 + i * 16;
    out.push(`<rect x="${x}" y="${y - 8}" width="14" height="8" fill="${colour}"/><text x="${x + 20}" y="${y}">${text}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Round tick values from `lo` to at least `hi` (about five). */
function niceTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = lo; t < hi + step; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function label(v: number): string {
  return Math.abs(v) >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : String(+v.toPrecision(3));
}

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
