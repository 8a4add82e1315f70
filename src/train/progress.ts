// The progress display of `face-llava train` on stderr: on a terminal, one line redrawn in place —
//
//   stage 1 ━━━━━━━━━━──────────  412/1000  41%  loss 2.314  1,830 tok/s  12m05s left
//
// — and elsewhere (a log file, CI) the same line at most every LOG_INTERVAL_MS, so logs stay readable. Messages
// (stage starts, checkpoints, validation) go on lines of their own.
import type { TrainEvent } from './trainer.js';

const BAR_WIDTH = 24;
const LOG_INTERVAL_MS = 15_000;

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export class Progress {
  private line = '';
  private lastLogged = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds one trainer event. */
  readonly onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'info':
        return this.message(e.message);
      case 'encode':
        return this.update(`encoding ${e.mirrored ? 'mirrored ' : ''}crops ${bar(e.done / Math.max(1, e.total))} ${e.done}/${e.total}`, e.done === e.total);
      case 'stage': {
        const resumed = e.from > 0 ? `, resuming at update ${e.from}` : '';
        const params = `${(e.trainableParams / 1e6).toFixed(2)} M trainable parameters`;
        return this.message(`stage ${e.stage.name} (${e.index + 1}/${e.count}): ${e.stage.title}: ${e.steps} updates over ${e.examples} examples, ${params}${resumed}`);
      }
      case 'step': {
        const { entry } = e;
        const text = [
          `stage ${entry.stage}`,
          bar(entry.step / e.steps),
          `${entry.step}/${e.steps}`,
          `${Math.floor((100 * entry.step) / e.steps)}%`,
          `loss ${entry.loss.toFixed(3)}`,
          `${Math.round(entry.tokens_per_s).toLocaleString('en-US')} tok/s`,
          `${duration(e.secondsLeft)} left`,
        ].join('  ');
        return this.update(text, entry.step === e.steps);
      }
      case 'val':
        return this.message(`stage ${e.entry.stage} update ${e.entry.step}: validation loss ${e.entry.val_loss.toFixed(4)} over ${e.entry.answer_tokens} answer tokens`);
      case 'checkpoint':
        if (!this.stream.isTTY) this.message(`checkpoint at stage ${e.stage} update ${e.step}`);
        return;
    }
  };

  /** Ends the redrawn line, if one is showing. */
  done(): void {
    if (this.stream.isTTY && this.line) this.stream.write('\n');
    this.line = '';
  }

  private message(text: string): void {
    this.done();
    this.stream.write(`${text}\n`);
  }

  /** Redraws the progress line (on a terminal), or logs it now and then (and always when `final`). */
  private update(text: string, final: boolean): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[K${text}`);
      this.line = text;
      if (final) this.done();
      return;
    }
    const t = this.now();
    if (final || t - this.lastLogged >= LOG_INTERVAL_MS) {
      this.stream.write(`${text}\n`);
      this.lastLogged = t;
    }
  }
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return '━'.repeat(filled) + '─'.repeat(BAR_WIDTH - filled);
}

/** 3h04m, 12m05s, 41s. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}
