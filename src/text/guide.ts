// Decoding guides: where an answer states its label, a decision rule over the model's own probabilities chooses
// the tokens instead of the sampler. Sampling (or greedy decoding) gives the *mode* of the next token, which is
// the right answer for a single class but not for a number scored by absolute error or a list scored item by item:
//
// - A number (an age): greedy decoding picks the most likely first digit, then the most likely second digit given
//   it — neither the mode nor the median of P(n). The median minimises the expected absolute error, so
//   `MedianNumberGuide` scores every number the model could write and states the median of its distribution:
//   P(n = d₁…d_k) = P(d₁)·P(d₂|d₁)…P(d_k|d₁…d_{k−1})·P(not a digit | d₁…d_k).
// - A list in a fixed order (CelebA's attributes alphabetically, AUs ascending): greedy decoding compares the
//   next item against each other item and against ending the list, so ten items of probability 0.2 each beat an
//   ending of 0.15 and the list grows too long. `ListGuide` walks the items in their order and includes item j
//   when, the list being what it is so far and the items before j left out,
//       P(j present | …) = P(next = j) / P(next ∈ {j, any later item, end}) > ½,
//   which is exact under the model's factorisation of an ordered list (left-out items are never written, so
//   "next = j" is "j present" given the items before it are absent). Each move is scored up to the token that
//   tells it apart from the others (`distinguishing`): the rest of a fixed phrase has probability ≈ 1.
//
// A guide only chooses tokens; the model still writes everything around them (the reasoning that follows reads
// what was chosen). The scores come from DecoderStepper.extend, which runs candidate continuations without
// committing to one.
import type { Tokenizer } from './tokenizer.js';
import { argmax } from './sampling.js';

/** What a guide sees of one sequence before its next token is chosen. */
export interface GuideState {
  /** The answer's ids so far. */
  readonly ids: readonly number[];
  /** The answer's text so far. */
  readonly text: string;
  /** Next-token logits. */
  readonly logits: Float32Array;
  /** Next-token log-probabilities after each token of each continuation; the sequence is left as it is
   * (DecoderStepper.extend). */
  extend(continuations: readonly (readonly number[])[]): Promise<Float32Array[][]>;
}

/**
 * Steers one sequence: before each token it may return tokens to append (appended one by one, nothing sampled in
 * between), or undefined to let the sampler choose. A guide is stateful and serves one sequence.
 */
export interface DecodingGuide {
  next(state: GuideState): Promise<readonly number[] | undefined>;
}

/** log Σ exp(logits), in float64. */
export function logSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** log softmax of a row of logits, in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  const lse = logSumExp(logits);
  return Float64Array.from(logits, (x) => x - lse);
}

/**
 * The ids that continue `text` with `continuation`, as the tokenizer splits the whole: the tokens of text +
 * continuation past those of text (`base`, when the caller has them already). Undefined when the continuation
 * would change the text's own last tokens (")" then "," is one piece "),"), which the sequence has already
 * committed to.
 */
export function continuationIds(
  tokenizer: Tokenizer,
  text: string,
  continuation: string,
  base: readonly number[] = tokenizer.encode(text, { bos: false, specials: false }),
): number[] | undefined {
  const whole = tokenizer.encode(text + continuation, { bos: false, specials: false });
  if (whole.length < base.length || base.some((id, i) => whole[i] !== id)) return undefined;
  return whole.slice(base.length);
}

/**
 * Each sequence cut just past the token that tells it apart from all the others (whole when it is a prefix of
 * another). A list's items are fixed phrases: once the model has written ", big n" it writes "ose" with
 * probability ≈ 1, so scoring a move this far gives its probability at a third of the tokens.
 */
export function distinguishing(sequences: readonly (readonly number[])[]): number[][] {
  return sequences.map((s, i) => {
    let shared = 0;
    sequences.forEach((other, j) => {
      if (j === i) return;
      let n = 0;
      while (n < s.length && n < other.length && s[n] === other[n]) n++;
      shared = Math.max(shared, n);
    });
    return s.slice(0, Math.min(s.length, shared + 1));
  });
}

/** The longest common prefix of id sequences. */
function commonPrefix(sequences: readonly (readonly number[])[]): number[] {
  const [first, ...rest] = sequences;
  let n = first.length;
  for (const s of rest) {
    let i = 0;
    while (i < n && i < s.length && s[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n);
}

/**
 * log P of each continuation given the sequence: its first token from the state's logits, each further token from
 * the log-probabilities after the ones before it. One extend call for all continuations longer than a token.
 */
export async function scoreContinuations(state: GuideState, continuations: readonly (readonly number[])[]): Promise<number[]> {
  const first = logSumExp(state.logits);
  const longer = continuations.filter((c) => c.length > 1);
  const extended = longer.length > 0 ? await state.extend(longer.map((c) => c.slice(0, -1))) : [];
  let next = 0;
  return continuations.map((c) => {
    let score = state.logits[c[0]] - first;
    if (c.length > 1) {
      const rows = extended[next++];
      for (let t = 1; t < c.length; t++) score += rows[t - 1][c[t]];
    }
    return score;
  });
}

/** Ids whose piece is exactly one decimal digit, by digit (LLaMA's vocabulary writes numbers digit by digit). */
export function digitIds(tokenizer: Tokenizer): number[] {
  const ids: number[] = [];
  for (let d = 0; d <= 9; d++) {
    const encoded = tokenizer.encode(`a${d}`, { bos: false, specials: false });
    const id = encoded[encoded.length - 1];
    if (tokenizer.tokenToString(id) !== String(d)) throw new Error(`the tokenizer has no piece for the digit ${d} alone: numbers cannot be scored digit by digit`);
    ids.push(id);
  }
  return ids;
}

export interface MedianNumberOptions {
  /** The numbers the model may state, inclusive (for ages 0–116). */
  min: number;
  max: number;
  /** Prefixes less probable than this are not expanded (default 1e-4): what they hold cannot move the median. */
  prune?: number;
  /**
   * Another reader's distribution over the numbers (`probabilities[n − min]`; NaN, or 0, where it gives none),
   * pooled log-linearly with the model's (`pooledClasses`) before the median is taken.
   */
  evidence?: Evidence;
}

/**
 * States the median of the model's distribution over a number, the first time the model is about to write a digit
 * (see the header). Leading zeros are not numbers it may write.
 */
export class MedianNumberGuide implements DecodingGuide {
  private done = false;
  /** The model's distribution it decided on, number → probability (normalised over the numbers scored). */
  distribution: Map<number, number> | undefined;
  /** With evidence: the pooled distribution whose median it stated. */
  pooled: Map<number, number> | undefined;

  constructor(
    private readonly digits: readonly number[],
    private readonly options: MedianNumberOptions,
  ) {}

  async next(state: GuideState): Promise<readonly number[] | undefined> {
    if (this.done || !this.digits.includes(argmax(state.logits))) return undefined;
    this.done = true;
    const { min, max, prune = 1e-4 } = this.options;
    const maxDigits = String(max).length;
    const probabilities = new Map<number, number>();
    // Breadth first over digit strings: `frontier` holds prefixes with their probability and next-token log-probs.
    const rootLog = logSoftmax(state.logits);
    let frontier: { prefix: number[]; p: number; log: ArrayLike<number> }[] = [{ prefix: [], p: 1, log: rootLog }];
    for (let length = 1; length <= maxDigits && frontier.length > 0; length++) {
      const grown: { prefix: number[]; p: number }[] = [];
      for (const { prefix, p, log } of frontier) {
        for (let d = prefix.length === 0 ? 1 : 0; d <= 9; d++) {
          const value = Number([...prefix, d].join(''));
          const q = p * Math.exp(log[this.digits[d]]);
          if (value <= max && q >= prune) grown.push({ prefix: [...prefix, d], p: q });
        }
      }
      if (grown.length === 0) break;
      const after = await state.extend(grown.map((g) => g.prefix.map((d) => this.digits[d])));
      frontier = grown.map((g, i) => {
        const log = after[i][g.prefix.length - 1];
        const more = this.digits.reduce((sum, id) => sum + Math.exp(log[id]), 0);
        const value = Number(g.prefix.join(''));
        if (value >= min) probabilities.set(value, g.p * Math.max(0, 1 - more));
        return { ...g, log };
      });
    }
    const total = [...probabilities.values()].reduce((a, b) => a + b, 0);
    if (!(total > 0)) return undefined;
    this.distribution = new Map([...probabilities].sort((a, b) => a[0] - b[0]).map(([n, p]) => [n, p / total]));
    const { evidence } = this.options;
    let ordered = [...this.distribution];
    if (evidence) {
      // Over every number either reader gives a probability; one the model never scored (pruned) is 0 to it.
      const other = (n: number) => (evidence.probabilities[n - min] > 0 ? evidence.probabilities[n - min] : 0);
      const numbers = Array.from({ length: max - min + 1 }, (_, i) => min + i).filter((n) => this.distribution!.has(n) || other(n) > 0);
      const pooled = pooledClasses(
        numbers.map((n) => this.distribution!.get(n) ?? 0),
        numbers.map(other),
        evidence.weight,
      );
      ordered = numbers.map((n, i) => [n, pooled[i]]);
      this.pooled = new Map(ordered);
    }
    let cumulative = 0;
    const median = ordered.find(([, p]) => (cumulative += p) >= 0.5)?.[0] ?? ordered[ordered.length - 1][0];
    return String(median)
      .split('')
      .map((d) => this.digits[Number(d)]);
  }
}

export interface ListGuideOptions {
  /** The items in the order lists state them, as written ("arched eyebrows", "AU1 (inner brow raiser)"). */
  items: readonly string[];
  /** Whether the list starts here: called before each token until it says yes (then the list is decided). */
  starts(state: GuideState): boolean;
  /** Before the first item (" " after "are" or ":"). */
  lead: string;
  /** Between items ", "; `lastSeparator` before the last one, when lists write one (" and "). */
  separator: string;
  lastSeparator?: string;
  /** After the last item ("."). */
  end: string;
  /** Needed for an item to be stated: P(present | the list so far) above it (default ½, the Bayes rule for
   * per-item accuracy); one per item, or one for all. */
  threshold?: number | readonly number[];
  /** Another reader's P(present) of each item (NaN: none), pooled with the model's (see `pooledOdds`). */
  evidence?: Evidence;
}

/** Another reader's probabilities for a guide's choices (a label head's: model/label-heads.ts) and their share w. */
export interface Evidence {
  readonly probabilities: ArrayLike<number>;
  readonly weight: number;
}

/** Probabilities kept off 0 and 1, so that a log or a logit of them stays finite. */
const clampProbability = (p: number): number => Math.min(1 - 1e-9, Math.max(1e-9, p));
const logit = (p: number): number => Math.log(clampProbability(p)) - Math.log(1 - clampProbability(p));

/**
 * A yes/no probability pooled log-linearly with another reader's: logit p = (1 − w)·logit p_model + w·logit p_other.
 * Without the other's (NaN or absent), the model's own.
 */
export function pooledOdds(model: number, other: number | undefined, weight: number): number {
  if (other === undefined || Number.isNaN(other)) return model;
  const z = (1 - weight) * logit(model) + weight * logit(other);
  return 1 / (1 + Math.exp(-z));
}

/** Class probabilities pooled log-linearly: log p(c) = (1 − w)·log p_model(c) + w·log p_other(c) + const. */
export function pooledClasses(model: ArrayLike<number>, other: ArrayLike<number>, weight: number): Float64Array {
  const z = Float64Array.from(model, (p, c) => (1 - weight) * Math.log(clampProbability(p)) + weight * Math.log(clampProbability(other[c])));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** One way to continue the list: an item (with the separator before it) or its end. */
interface Move {
  item?: number;
  /** Nothing may follow the item but the end (it is written " and X"). */
  last: boolean;
  /** Another item must follow ("X, Y" in a list that writes " and " before its last item). */
  continues: boolean;
  text: string;
}

/** A move as tokens: those it appends now, and the text it leaves pending. */
interface MoveIds {
  ids: number[];
  pending: string;
}

/**
 * Decides an ordered list item by item (see the header). Once the list starts, every call either states the next
 * item (or ends the list) or, while the tokens of a decision are still being appended, nothing. An item's last
 * tokens can fuse with what follows (")" and "," are the one piece "),"), so a move is appended only as far as the
 * tokens all its possible continuations share; the rest of its text stays pending for the next decision
 * (P(item) = Σ over what may follow it of P(item, follower), the probability of the shared tokens). It is scored
 * up to its distinguishing token, no further than those shared tokens.
 */
export class ListGuide implements DecodingGuide {
  private phase: 'before' | 'in' | 'done' = 'before';
  private nextItem = 0;
  /** A separator after which the list must go on (", " when lists close with " and "). */
  private mustContinue = false;
  /** Text decided but not yet appended as tokens. */
  private pending = '';
  /** The items it stated, by index into `items`. */
  readonly chosen: number[] = [];

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: ListGuideOptions,
  ) {}

  async next(state: GuideState): Promise<readonly number[] | undefined> {
    if (this.phase === 'done') return undefined;
    if (this.phase === 'before') {
      if (!this.options.starts(state)) return undefined;
      this.phase = 'in';
    }
    const moves = this.moves();
    // Every move continues the same text: it is tokenized (and spelled back) once for all of them.
    const base = this.tokenizer.encode(state.text, { bos: false, specials: false });
    const context = { text: state.text, base, spelled: this.tokenizer.decode(base) };
    const ids = moves.map((m) => this.moveIds(context, m));
    if (ids.some((m) => m === undefined || m.ids.length === 0)) {
      // The tokenizer cannot split the text here as the list needs: leave the rest to the sampler.
      this.phase = 'done';
      return undefined;
    }
    const p = (await scoreContinuations(state, distinguishing(ids.map((m) => m!.ids)))).map(Math.exp);
    const move = moves[this.decide(moves, p)];
    const { ids: append, pending } = ids[moves.indexOf(move)]!;
    if (move.item !== undefined) {
      this.chosen.push(move.item);
      this.nextItem = move.item + 1;
      this.mustContinue = move.continues;
    }
    this.pending = pending;
    if (move.item === undefined || this.closes(move)) this.phase = 'done';
    return append;
  }

  /** The continuations open here: each remaining item (with each separator the list may use), and the end. */
  private moves(): Move[] {
    const { items, lead, separator, lastSeparator, end } = this.options;
    const first = this.chosen.length === 0;
    const moves: Move[] = [];
    for (let item = this.nextItem; item < items.length; item++) {
      if (first || lastSeparator === undefined) moves.push({ item, last: false, continues: false, text: (first ? lead : separator) + items[item] });
      else moves.push({ item, last: false, continues: true, text: separator + items[item] }, { item, last: true, continues: false, text: lastSeparator + items[item] });
    }
    // A list states at least one item, and none may end right after a separator that promises more.
    if (!first && !this.mustContinue) moves.push({ last: true, continues: false, text: end });
    return moves;
  }

  /** After this item the list ends: it was written as the last, or no item is left. */
  private closes(move: Move): boolean {
    return move.last || move.item! + 1 >= this.options.items.length;
  }

  /**
   * The tokens a move appends, and the text it leaves pending. An ending, and an item that closes the list, are
   * appended whole (with the ending). Other items only as far as their continuations — each separator, and the
   * end unless the list must go on — share tokens.
   */
  private moveIds(context: { text: string; base: readonly number[]; spelled: string }, move: Move): MoveIds | undefined {
    const { separator, lastSeparator, end } = this.options;
    const { text, base } = context;
    const decided = this.pending + move.text;
    if (move.item === undefined || this.closes(move)) {
      const ids = continuationIds(this.tokenizer, text, move.item === undefined ? decided : decided + end, base);
      return ids && { ids, pending: '' };
    }
    const followers = [separator, ...(lastSeparator !== undefined ? [lastSeparator] : []), ...(move.continues ? [] : [end])];
    const futures = followers.map((f) => continuationIds(this.tokenizer, text, decided + f, base));
    if (futures.some((f) => f === undefined)) return undefined;
    const shared = commonPrefix(futures as number[][]);
    // The text the shared tokens spell; what of the decided text they leave out waits for the next decision.
    const spelled = this.tokenizer.decode([...base, ...shared]).slice(context.spelled.length);
    if (!decided.startsWith(spelled)) return undefined;
    return { ids: shared, pending: decided.slice(spelled.length) };
  }

  /** The index of the move the rule makes, given each move's probability. */
  private decide(moves: readonly Move[], p: readonly number[]): number {
    const given = this.options.threshold ?? 0.5;
    const threshold = (item: number) => (typeof given === 'number' ? given : given[item]);
    const mass = (from: number) => moves.reduce((sum, m, i) => sum + (m.item === undefined || m.item >= from ? p[i] : 0), 0);
    const itemMass = (item: number) => moves.reduce((sum, m, i) => sum + (m.item === item ? p[i] : 0), 0);
    const candidates = [...new Set(moves.flatMap((m) => (m.item === undefined ? [] : [m.item])))];
    const evidence = this.options.evidence;
    const present = (item: number) => pooledOdds(itemMass(item) / mass(item), evidence?.probabilities[item], evidence?.weight ?? 0);
    let chosen = candidates.find((item) => present(item) > threshold(item));
    if (chosen === undefined) {
      const end = moves.findIndex((m) => m.item === undefined);
      if (end >= 0) return end;
      // No ending is possible here: the most probable item.
      chosen = candidates.reduce((best, item) => (itemMass(item) > itemMass(best) ? item : best), candidates[0]);
    }
    // Of the ways to write the chosen item, the model's most probable (", X" or " and X": whether it is the last).
    let best = -1;
    moves.forEach((m, i) => {
      if (m.item === chosen && (best < 0 || p[i] > p[best])) best = i;
    });
    return best;
  }
}


export interface ClassGuideOptions {
  /** Per class, every sentence an answer may open with to state it. */
  openings: readonly (readonly string[])[];
  /** Another reader's probability of each class, pooled with the model's (`pooledClasses`). */
  evidence?: Evidence;
}

/**
 * Chooses the class an answer opens with. At the answer's first token it scores every opening of every class up
 * to the token that tells it apart (`distinguishing`), sums each class's openings into the model's
 *     P(c) = Σ_{o ∈ openings(c)} P(o),
 * pools that with the evidence, and appends the chosen class's most probable opening whole; the model writes the
 * rest. Openings the tokenizer cannot continue the text with are left out; none left, the sampler decides.
 */
export class ClassGuide implements DecodingGuide {
  private done = false;
  /** The class it chose, by index into `openings`. */
  chosen?: number;
  /** The model's own P(c) and the pooled one, once chosen. */
  model?: Float64Array;
  pooled?: Float64Array;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: ClassGuideOptions,
  ) {}

  async next(state: GuideState): Promise<readonly number[] | undefined> {
    if (this.done) return undefined;
    this.done = true;
    if (state.ids.length > 0) return undefined;
    const base = this.tokenizer.encode(state.text, { bos: false, specials: false });
    const candidates: { cls: number; ids: number[] }[] = [];
    this.options.openings.forEach((openings, cls) => {
      for (const opening of openings) {
        const ids = continuationIds(this.tokenizer, state.text, opening, base);
        if (ids && ids.length > 0) candidates.push({ cls, ids });
      }
    });
    if (candidates.length === 0) return undefined;
    const scores = await scoreContinuations(state, distinguishing(candidates.map((c) => c.ids)));
    const model = new Float64Array(this.options.openings.length);
    candidates.forEach((c, i) => (model[c.cls] += Math.exp(scores[i])));
    const total = model.reduce((a, b) => a + b, 0);
    for (let c = 0; c < model.length; c++) model[c] = total > 0 ? model[c] / total : 1 / model.length;
    const { evidence } = this.options;
    const pooled = evidence ? pooledClasses(model, evidence.probabilities, evidence.weight) : model;
    const chosen = argmax(pooled);
    let best = -1;
    candidates.forEach((c, i) => {
      if (c.cls === chosen && (best < 0 || scores[i] > scores[best])) best = i;
    });
    if (best < 0) return undefined; // the chosen class has no opening the text can take: leave it to the sampler
    this.chosen = chosen;
    this.model = model;
    this.pooled = pooled;
    return candidates[best].ids;
  }
}
