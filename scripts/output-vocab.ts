// Writes a model directory's `output_vocab`: the tokens its training answers contain (every label the loss
// trained on, `</s>` among them; src/train/output-vocab.ts), so that lm_head computes those logits alone
// (src/model/kv-cache.ts).
//
//   npx tsx scripts/output-vocab.ts --model models/default --data fi/fer2013-expression fi/utkface-age …
//
// --data: the FaceInstruct folders (or JSONL files) the model was trained on, as given to `face-llava train`.
// A token the answers never held was a target of no update: the softmax pushed its probability down at every one.
// The script says how many tokens the answers use and rewrites config.json in place (nothing else changes);
// `--dry-run` only counts. `face-llava eval` with and without `--full-vocab` measures what the list changes.
import { parseArgs } from 'node:util';
import { readModelDirConfig, writeModelDirConfig } from '../src/model/pretrained.js';
import { answerVocabulary } from '../src/train/output-vocab.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true, // --data a b c, as `face-llava train` takes it
  options: {
    model: { type: 'string' },
    data: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean', default: false },
  },
});
const data = [...(a.data ?? []), ...positionals];
if (!a.model || !data.length) throw new Error('usage: scripts/output-vocab.ts --model <dir> --data <folder>… [--dry-run]');

const config = await readModelDirConfig(a.model);
const { ids, uses, answers } = await answerVocabulary(data, { config: config.face_llava });
const rare = ids.filter((id) => (uses.get(id) ?? 0) < 5).length;
console.log(`${answers} training answers use ${ids.length} of ${config.face_llava.llm.vocab_size} tokens (${rare} of them fewer than 5 times)`);
if (!a['dry-run']) {
  console.log(`wrote output_vocab to ${await writeModelDirConfig(a.model, { ...config, output_vocab: ids })}`);
}
