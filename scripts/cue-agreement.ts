// Does the model's reasoning say what the face shows? For each facial cue the offline annotator states from the
// landmarks (src/data/annotators/cue-phrases.ts: mouth, brows, eyes, the head's turn, tilt and pitch), this script
// reads the level a model's answer states and the level the FaceInstruct answer of the same image states — measured
// on the face expert's landmarks — and counts how often they agree where both state the cue, beside the agreement
// two independent guessers with the same habits would reach (Σᵥ p_model(v) · p_measured(v) over those images).
//
//   npx tsx scripts/cue-agreement.ts --data fi/fer2013-val <predictions.jsonl>…
//
// `--data`: FaceInstruct built from the split the predictions answer (`face-llava data build --split val`); the
// predictions: `face-llava eval`'s predictions.jsonl (scripts/validate.ts leaves one per run). Images are matched
// by file name; for the head's turn and tilt it also counts, where both name a side, how often it is the same one.
// A level counts as stated when one of its annotator clauses appears in the answer word for word
// (the model writes in its training answers' words); an answer stating two levels of one cue is left out for it.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CUE_PHRASES } from '../src/data/annotators/cue-phrases.js';

const { values: a, positionals: predictionFiles } = parseArgs({ allowPositionals: true, options: { data: { type: 'string', multiple: true } } });
if (!a.data?.length || !predictionFiles.length) throw new Error('usage: scripts/cue-agreement.ts --data <FaceInstruct folder> <predictions.jsonl>…');

const SIDES = new Set(['left', 'right']);
const normalize = (text: string) => text.toLowerCase().replaceAll('’', "'");

/** The level of each cue a text states, where it states exactly one. */
function statedLevels(text: string): Map<string, string> {
  const t = normalize(text);
  const out = new Map<string, string>();
  for (const [cue, levels] of Object.entries(CUE_PHRASES)) {
    const stated = Object.entries(levels).filter(([, phrases]) => phrases.some((p) => t.includes(normalize(p))));
    if (stated.length === 1) out.set(cue, stated[0][0]);
  }
  return out;
}

/** The FaceInstruct answer of each image, by file name. */
async function measuredAnswers(folders: readonly string[]): Promise<Map<string, string>> {
  const answers = new Map<string, string>();
  for (const folder of folders) {
    for (const file of (await readdir(folder)).filter((f) => /^shard-.*\.jsonl$/.test(f))) {
      for (const line of (await readFile(join(folder, file), 'utf8')).split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as { id: string; conversations: { value: string }[] };
        answers.set(basename(r.id), r.conversations[1].value);
      }
    }
  }
  return answers;
}

/** The 95 % Wilson interval of k successes in n. */
function wilson(k: number, n: number): [number, number] {
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [centre - half, centre + half];
}

const measured = await measuredAnswers(a.data);
for (const path of predictionFiles) {
  const rows = (await readFile(path, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { file: string; answer: string });
  const pairs = new Map<string, [string, string][]>();
  let matched = 0;
  for (const row of rows) {
    const truth = measured.get(basename(row.file));
    if (truth === undefined) continue;
    matched++;
    const [said, seen] = [statedLevels(row.answer), statedLevels(truth)];
    for (const [cue, level] of said) {
      if (seen.has(cue)) pairs.set(cue, [...(pairs.get(cue) ?? []), [level, seen.get(cue)!]]);
    }
  }
  console.log(`\n${path}: ${matched} of ${rows.length} answers matched to a measured answer\n`);
  console.log('| cue | both state it | agree | 95 % interval | independent guessers |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [cue, list] of pairs) {
    const n = list.length;
    const agree = list.filter(([x, y]) => x === y).length;
    const share = (pick: 0 | 1, v: string) => list.filter((p) => p[pick] === v).length / n;
    const chance = [...new Set(list.flat())].reduce((sum, v) => sum + share(0, v) * share(1, v), 0);
    const [lo, hi] = wilson(agree, n);
    console.log(`| ${cue} | ${n} | ${(agree / n).toFixed(2)} | ${lo.toFixed(2)}–${hi.toFixed(2)} | ${chance.toFixed(2)} |`);
  }
  // The head's turn and tilt: of the images where both name a side, how often the same one (chance: one half).
  for (const [cue, list] of pairs) {
    const sided = list.filter(([x, y]) => SIDES.has(x) && SIDES.has(y));
    if (!sided.length) continue;
    const same = sided.filter(([x, y]) => x === y).length;
    const [lo, hi] = wilson(same, sided.length);
    console.log(`\n${cue}: both name a side for ${sided.length} images, the same side for ${same} (${(same / sided.length).toFixed(2)}, ${lo.toFixed(2)}–${hi.toFixed(2)})`);
  }
}
