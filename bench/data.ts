// npm run bench:data — throughput of the FaceInstruct builder on the offline annotator path, over real packs of
// ../shared/data: cold (face expert on every row: decode, detect, landmarks, crop, JPEG, then cues, description,
// rule checks, JSONL), with 1 and 2 face workers; warm (crops and landmarks from the cache); and the description
// and rule checks alone. BENCH_ROWS sets the rows per run (default 400).
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildFaceInstruct, type BuildOptions } from '../src/data/faceinstruct.js';
import { OfflineAnnotator, describe } from '../src/data/annotators/offline.js';
import { checkRules } from '../src/data/rater/rules.js';
import { CUE_NAMES, CUE_SCALES, cueOf, type CueReport } from '../src/data/cues.js';
import { rngFor } from '../src/data/build/random.js';
import { EXPRESSIONS } from '../src/data/labels/expression.js';

const rows = Number(process.env.BENCH_ROWS ?? 400);
const root = await mkdtemp(join(tmpdir(), 'bench-data-'));
// Expression rows come from fer2013 and ckplus, interleaved.
const expression = (out: string, cacheDir: string, workers: number): BuildOptions => ({
  sources: ['fer2013', 'ckplus'].map((pack) => resolve('../shared/data', pack)),
  task: 'expression',
  out,
  annotator: new OfflineAnnotator(),
  limit: rows,
  workers,
  cacheDir,
});

async function timed(label: string, options: BuildOptions): Promise<number> {
  const start = performance.now();
  const summary = await buildFaceInstruct(options);
  const seconds = (performance.now() - start) / 1000;
  const rate = summary.records / seconds;
  console.log(`samples_per_s=${rate.toFixed(1)}  rows_per_s=${(summary.consumed / seconds).toFixed(1)}  ${label} (${summary.records} samples, ${summary.consumed} rows, ${seconds.toFixed(1)} s)`);
  return rate;
}

try {
  console.log(`bench:data — ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} CPUs, Node ${process.version}, ${rows} rows per run`);
  const cold1 = await timed('offline, cold cache, 1 worker (face expert on every row)', expression(join(root, 'a'), join(root, 'cache1'), 1));
  const cold2 = await timed('offline, cold cache, 2 worker threads', expression(join(root, 'b'), join(root, 'cache2'), availableParallelism() > 1 ? 2 : 1));
  await timed('offline, warm cache (crops and landmarks cached), 1 worker', expression(join(root, 'c'), join(root, 'cache1'), 1));

  const rng = rngFor('bench');
  const requests = Array.from({ length: 2000 }, (_, i) => {
    const cues: CueReport = {};
    for (const name of CUE_NAMES) cues[name] = cueOf(name, CUE_SCALES[name].cuts[0] + (rng.next() - 0.5) * 0.3);
    return { id: `x${i}`, seed: 'bench', label: { task: 'expression', value: rng.pick(EXPRESSIONS) } as const, media: 'image' as const, cues };
  });
  const start = performance.now();
  for (const request of requests) checkRules(describe(request), request.label, request.cues);
  const annotate = requests.length / ((performance.now() - start) / 1000);
  console.log(`annotate_rules_per_s=${annotate.toFixed(0)}  (offline description + rule checks alone, one thread)`);

  const best = Math.max(cold1, cold2);
  const hours = 1e6 / best / 3600;
  console.log(`million_samples_hours=${hours.toFixed(1)}  (1,000,000 samples at the best cold rate on this machine)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
