// The tokens a model's training answers use, for config.json's `output_vocab` (src/model/kv-cache.ts): every
// position the loss trained on — the answers' tokens and the `</s>` that ends each — exactly as the trainer
// tokenizes them (LLaVA's masking, train/data.ts). A token outside it was the target of no update.
import type { FaceLlavaConfig } from '../model/config.js';
import { IGNORE_INDEX } from '../text/chat.js';
import { llamaTokenizer, type Tokenizer } from '../text/tokenizer.js';
import { listJsonl, loadExamples } from './data.js';

export interface AnswerVocabulary {
  /** Ascending token ids, the end of sequence among them. */
  readonly ids: number[];
  /** How many answer positions each id fills. */
  readonly uses: ReadonlyMap<number, number>;
  /** Training examples read (the train split's records). */
  readonly answers: number;
}

/** The answer tokens of the train split of FaceInstruct folders or JSONL files (as `face-llava train --data` takes them). */
export async function answerVocabulary(data: readonly string[], o: { config: FaceLlavaConfig; tokenizer?: Tokenizer }): Promise<AnswerVocabulary> {
  const tokenizer = o.tokenizer ?? llamaTokenizer();
  const { examples } = await loadExamples(await listJsonl(data), { tokenizer, config: o.config, split: 'train' });
  const uses = new Map<number, number>([[tokenizer.eosId, 0]]);
  for (const e of examples) for (const id of e.labels) if (id !== IGNORE_INDEX) uses.set(id, (uses.get(id) ?? 0) + 1);
  return { ids: [...uses.keys()].sort((a, b) => a - b), uses, answers: examples.length };
}
