// `face-llava data stats`: counts, label balance and rating histograms of a build's output folder, read line by
// line (memory stays flat however many shards there are).
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { instructionPool, type AnswerForm } from '../instructions/index.js';
import { RATING_KEYS } from '../rater/judge.js';
import { readManifest, REJECTED, type Rejection } from './output.js';
import { TASKS, type FaceInstructRecord, type Ratings } from './types.js';

type Counts = Record<string, number>;
type Histogram = Record<keyof Ratings, number[]>;

export interface DataStats {
  dir: string;
  /** Source rows consumed and whether every source was read to its end (from the manifest). */
  consumed: number | null;
  exhausted: boolean | null;
  samples: number;
  byTask: Counts;
  bySource: Counts;
  bySplit: Counts;
  byAnnotator: Counts;
  byAnswerForm: Counts;
  /** Per task: class (expression, deepfake), AU, attribute or age decade → samples. */
  labels: Record<string, Counts>;
  dropped: Counts;
  /** Ratings 1–10 (index 0 for 1), of kept samples and of samples dropped for their rating. */
  ratings: { kept: Histogram; dropped: Histogram };
  /** Lines that are not JSON (a build being written right now ends in a partial line). */
  unreadableLines: number;
}

const FORMS = new Map<string, AnswerForm>(TASKS.flatMap((task) => instructionPool(task).map((i) => [i.id, i.form] as const)));
const emptyHistogram = (): Histogram =>
  Object.fromEntries(RATING_KEYS.map((key) => [key, Array<number>(10).fill(0)])) as Histogram;
const bump = (counts: Counts, key: string, by = 1): void => {
  counts[key] = (counts[key] ?? 0) + by;
};

function addRatings(histogram: Histogram, ratings: Ratings): void {
  for (const key of RATING_KEYS) histogram[key][Math.min(10, Math.max(1, Math.round(ratings[key]))) - 1]++;
}

function labelKeys(record: FaceInstructRecord): string[] {
  const label = record.label;
  if (record.task === 'age') {
    const decade = Math.floor(Number(label) / 10) * 10;
    return [`${decade}-${decade + 9}`];
  }
  if (Array.isArray(label)) {
    if (label.length === 0) return ['(none)'];
    return record.task === 'au' ? label.map((au) => `AU${au}`) : label.map(String);
  }
  return [String(label)];
}

async function* jsonLines<T>(path: string, onBad: () => void): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as T;
    } catch {
      onBad();
    }
  }
}

export async function collectStats(dir: string): Promise<DataStats> {
  const manifest = await readManifest(dir);
  const stats: DataStats = {
    dir,
    consumed: manifest?.consumed ?? null,
    exhausted: manifest?.exhausted ?? null,
    samples: 0,
    byTask: {},
    bySource: {},
    bySplit: {},
    byAnnotator: {},
    byAnswerForm: {},
    labels: {},
    dropped: {},
    ratings: { kept: emptyHistogram(), dropped: emptyHistogram() },
    unreadableLines: 0,
  };
  const bad = (): void => {
    stats.unreadableLines++;
  };
  const files = await readdir(dir);
  const shards = files.filter((file) => /^shard-\d+\.jsonl$/.test(file)).sort();
  if (shards.length === 0 && !files.includes(REJECTED)) throw new Error(`${dir} holds no FaceInstruct shards`);
  for (const shard of shards) {
    for await (const record of jsonLines<FaceInstructRecord>(join(dir, shard), bad)) {
      stats.samples++;
      bump(stats.byTask, record.task);
      bump(stats.bySource, record.source);
      bump(stats.bySplit, record.split);
      bump(stats.byAnnotator, record.annotator);
      bump(stats.byAnswerForm, FORMS.get(record.instruction_id) ?? 'unknown');
      stats.labels[record.task] ??= {};
      for (const key of labelKeys(record)) bump(stats.labels[record.task], key);
      if (record.ratings) addRatings(stats.ratings.kept, record.ratings);
    }
  }
  if (files.includes(REJECTED)) {
    for await (const rejection of jsonLines<Rejection>(join(dir, REJECTED), bad)) {
      bump(stats.dropped, rejection.reason);
      if (rejection.ratings) addRatings(stats.ratings.dropped, rejection.ratings);
    }
  }
  return stats;
}

const sorted = (counts: Counts): [string, number][] => Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
const inline = (counts: Counts): string => sorted(counts).map(([k, v]) => `${k} ${v}`).join(', ') || '-';

function histogramLines(histogram: Histogram): string[] {
  return RATING_KEYS.map((key) => {
    const bins = histogram[key];
    const n = bins.reduce((a, b) => a + b, 0);
    const mean = n > 0 ? bins.reduce((sum, count, i) => sum + count * (i + 1), 0) / n : NaN;
    return `    ${key.padEnd(18)} ${bins.map((count, i) => `${i + 1}:${count}`).join(' ')}  mean ${n > 0 ? mean.toFixed(2) : '-'}`;
  });
}

/** The report `face-llava data stats` prints. */
export function formatStats(stats: DataStats): string {
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
  const state = stats.exhausted === null ? 'no manifest' : stats.exhausted ? 'complete' : 'partial: resumable';
  const lines = [
    `${stats.dir}: ${stats.samples} samples, ${dropped} dropped, from ${stats.consumed ?? '?'} source rows (${state})`,
    `  tasks: ${inline(stats.byTask)}`,
    `  sources: ${inline(stats.bySource)}`,
    `  splits: ${inline(stats.bySplit)}`,
    `  annotators: ${inline(stats.byAnnotator)}`,
    `  answer forms: ${inline(stats.byAnswerForm)}`,
  ];
  for (const [task, counts] of Object.entries(stats.labels)) {
    lines.push(`  label balance (${task}):`);
    const total = stats.byTask[task] ?? 0;
    const width = Math.max(...Object.keys(counts).map((k) => k.length));
    for (const [key, count] of sorted(counts)) {
      const share = total > 0 ? count / total : 0;
      lines.push(`    ${key.padEnd(width)} ${String(count).padStart(7)} ${(share * 100).toFixed(1).padStart(5)}% ${'#'.repeat(Math.round(share * 40))}`);
    }
  }
  lines.push(`  dropped: ${inline(stats.dropped)}`);
  const rated = (h: Histogram): boolean => h.overall.some((count) => count > 0);
  if (rated(stats.ratings.kept)) lines.push('  ratings of kept samples:', ...histogramLines(stats.ratings.kept));
  if (rated(stats.ratings.dropped)) lines.push('  ratings of samples dropped for their rating:', ...histogramLines(stats.ratings.dropped));
  if (stats.unreadableLines > 0) lines.push(`  unreadable lines: ${stats.unreadableLines}`);
  return lines.join('\n');
}
