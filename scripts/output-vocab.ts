// Writes a model directory's `output_vocab`: the tokens its training answers contain (every label the loss
// trained on, `</s>` among them), so that lm_head computes those logits alone (src/model/kv-cache.ts).
//
//   npx tsx scripts/output-vocab.ts --model models/default --data fi/fer2013-expression fi/utkface-age …
//
// --data: the FaceInstruct folders (or JSONL files) the model was trained on, as given to `face-llava train`.
// A token the answers never held was a target of no update: the softmax pushed its probability down at every one.
// The script says how many tokens the answers use and rewrites config.json in place (nothing else changes);
// `--dry-run` only counts. `face-llava eval` with and without `--full-vocab` measures what the list changes.
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IGNORE_INDEX } from '../src/text/chat.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { CONFIG_FILE_NAME, formatModelDirConfig, parseModelDirConfig, readModelDirConfig } from '../src/model/pretrained.js';
import { listJsonl, loadExamples } from '../src/train/data.js';

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
const tokenizer = llamaTokenizer();
const { examples } = await loadExamples(await listJsonl(data), { tokenizer, config: config.face_llava, split: 'train' });
const uses = new Map<number, number>();
for (const e of examples) for (const id of e.labels) if (id !== IGNORE_INDEX) uses.set(id, (uses.get(id) ?? 0) + 1);
uses.set(tokenizer.eosId, uses.get(tokenizer.eosId) ?? 0);
const ids = [...uses.keys()].sort((x, y) => x - y);
const rare = ids.filter((id) => (uses.get(id) ?? 0) < 5).length;
console.log(`${examples.length} training answers use ${ids.length} of ${config.face_llava.llm.vocab_size} tokens (${rare} of them fewer than 5 times)`);
if (!a['dry-run']) {
  const next = parseModelDirConfig({ ...config, output_vocab: ids });
  const path = join(a.model, CONFIG_FILE_NAME);
  await writeFile(`${path}.tmp`, formatModelDirConfig(next));
  await rename(`${path}.tmp`, path);
  console.log(`wrote output_vocab to ${path}`);
}
