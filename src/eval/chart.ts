// Small self-contained SVG charts for evaluation reports: horizontal bars (per-class or per-attribute scores), a
// confusion heat map and a histogram. Plain strings, no dependencies; text is sized by a rough width per character.

const FONT = 'font-family="sans-serif" font-size="12"';
const CHAR_WIDTH = 7;
const ACCENT = '#3b6ea5';

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function svg(plotWidth: number, height: number, title: string, body: string[]): string {
  const width = Math.max(plotWidth, title.length * CHAR_WIDTH + 20); // the title fits, whatever the plot
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" ${FONT} font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

const labelWidth = (labels: readonly string[]) => Math.max(...labels.map((l) => l.length), 1) * CHAR_WIDTH + 10;

export interface Bar {
  label: string;
  /** Null draws no bar and says "n/a" (e.g. the recall of a class with no samples). */
  value: number | null;
}

/** Horizontal bars from 0 to `max` (default 1), one row per item, each labelled with its value. */
export function barChart(title: string, bars: readonly Bar[], options: { max?: number; format?: (v: number) => string } = {}): string {
  const max = options.max ?? 1;
  const format = options.format ?? ((v: number) => v.toFixed(3));
  const left = labelWidth(bars.map((b) => b.label));
  const plot = 320;
  const row = 20;
  const top = 34;
  const body = bars.flatMap((bar, i) => {
    const y = top + i * row;
    const width = bar.value === null ? 0 : (Math.max(0, Math.min(bar.value, max)) / max) * plot;
    return [
      `<text x="${left - 6}" y="${y + 14}" text-anchor="end" ${FONT}>${escapeXml(bar.label)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${width.toFixed(1)}" height="${row - 6}" fill="${ACCENT}"/>`,
      `<text x="${left + width + 4}" y="${y + 14}" ${FONT}>${bar.value === null ? 'n/a' : escapeXml(format(bar.value))}</text>`,
    ];
  });
  body.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + bars.length * row}" stroke="#333333"/>`);
  return svg(left + plot + 60, top + bars.length * row + 10, title, body);
}

/**
 * A confusion matrix as a heat map: rows the true classes, columns the predictions; each cell holds its count and is
 * shaded by its share of the row, so classes of different sizes read alike.
 */
export function heatmap(title: string, rows: readonly string[], columns: readonly string[], counts: readonly (readonly number[])[]): string {
  const cell = 44;
  const left = labelWidth(rows) + 20;
  const top = 40 + labelWidth(columns);
  const body: string[] = [];
  columns.forEach((label, j) => {
    const x = left + j * cell + cell / 2;
    body.push(`<text transform="translate(${x + 4},${top - 6}) rotate(-60)" ${FONT}>${escapeXml(label)}</text>`);
  });
  rows.forEach((label, i) => {
    const y = top + i * cell;
    const total = counts[i].reduce((a, b) => a + b, 0);
    body.push(`<text x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end" ${FONT}>${escapeXml(label)}</text>`);
    counts[i].forEach((count, j) => {
      const share = total === 0 ? 0 : count / total;
      const x = left + j * cell;
      body.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${ACCENT}" fill-opacity="${share.toFixed(3)}" stroke="#cccccc"/>`);
      body.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" ${FONT} fill="${share > 0.5 ? '#ffffff' : '#000000'}">${count}</text>`);
    });
  });
  body.push(`<text x="${left + (columns.length * cell) / 2}" y="${top + rows.length * cell + 20}" text-anchor="middle" ${FONT}>predicted</text>`);
  body.push(`<text transform="translate(14,${top + (rows.length * cell) / 2}) rotate(-90)" text-anchor="middle" ${FONT}>true</text>`);
  return svg(left + columns.length * cell + 20, top + rows.length * cell + 30, title, body);
}

/** Counts of `values` in bins of `binWidth` (bin k covers [k·w, (k+1)·w)), as vertical bars. */
export function histogram(title: string, values: readonly number[], options: { binWidth: number; xLabel: string }): string {
  const w = options.binWidth;
  const bins = new Map<number, number>();
  for (const v of values) bins.set(Math.floor(v / w), (bins.get(Math.floor(v / w)) ?? 0) + 1);
  const keys = bins.size === 0 ? [0] : [...bins.keys()];
  const first = Math.min(...keys);
  const last = Math.max(...keys);
  const peak = Math.max(1, ...bins.values());
  const bar = 28;
  const plot = 200;
  const left = 40;
  const top = 44;
  const body: string[] = [];
  // A tick at each bin's left edge, and one closing the last bin.
  const tick = (k: number) => {
    const x = left + (k - first) * bar;
    body.push(`<line x1="${x}" y1="${top + plot}" x2="${x}" y2="${top + plot + 4}" stroke="#333333"/>`);
    body.push(`<text transform="translate(${x - 3},${top + plot + 10}) rotate(60)" ${FONT}>${k * w}</text>`);
  };
  for (let k = first; k <= last; k++) {
    const count = bins.get(k) ?? 0;
    const x = left + (k - first) * bar;
    const height = (count / peak) * plot;
    body.push(`<rect x="${x + 2}" y="${(top + plot - height).toFixed(1)}" width="${bar - 4}" height="${height.toFixed(1)}" fill="${ACCENT}"/>`);
    if (count > 0) body.push(`<text x="${x + bar / 2}" y="${(top + plot - height - 4).toFixed(1)}" text-anchor="middle" ${FONT}>${count}</text>`);
    tick(k);
  }
  tick(last + 1);
  const width = left + (last - first + 1) * bar + 20;
  body.push(`<line x1="${left}" y1="${top + plot}" x2="${width - 20}" y2="${top + plot}" stroke="#333333"/>`);
  body.push(`<text x="${width / 2}" y="${top + plot + 56}" text-anchor="middle" ${FONT}>${escapeXml(options.xLabel)}</text>`);
  return svg(Math.max(width, 260), top + plot + 66, title, body);
}
