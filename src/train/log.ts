// log.jsonl: one line per update and per validation, appended as training goes. A resumed run first cuts the
// file back to the length its checkpoint recorded, so the log of a killed-and-resumed run is the log of an
// uninterrupted one (timings aside).
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface StepEntry {
  type: 'step';
  stage: string;
  /** Updates done in the stage (this one included), and across the run's stages. */
  step: number;
  global_step: number;
  epoch: number;
  /** Mean answer-token cross-entropy of the step's micro-batches, before the update. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** Positions in the step's sequences (padding excluded), and those the loss counted. */
  tokens: number;
  answer_tokens: number;
  tokens_per_s: number;
  elapsed_s: number;
}

export interface ValEntry {
  type: 'val';
  stage: string;
  step: number;
  global_step: number;
  /** Answer-token cross-entropy over the whole validation set (each token weighs the same). */
  val_loss: number;
  answer_tokens: number;
}

export type LogEntry = StepEntry | ValEntry;

export class TrainLog {
  private constructor(
    private readonly fd: number,
    private length: number,
    readonly entries: LogEntry[],
  ) {}

  /** Opens the log keeping its first `bytes` bytes (0: a new log). */
  static open(path: string, bytes: number): TrainLog {
    const kept = bytes > 0 && existsSync(path) ? readFileSync(path).subarray(0, bytes).toString('utf8') : '';
    if (kept.length > 0 && !kept.endsWith('\n')) throw new Error(`${path} is shorter than its checkpoint says (${bytes} bytes)`);
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    ftruncateSync(fd, Buffer.byteLength(kept));
    const entries = kept.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogEntry);
    return new TrainLog(fd, Buffer.byteLength(kept), entries);
  }

  append(entry: LogEntry): void {
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    writeSync(this.fd, line, 0, line.length, this.length);
    this.length += line.length;
    this.entries.push(entry);
  }

  /** Bytes written; fsynced first, so a checkpoint never points past what is on disk. */
  durableLength(): number {
    fsyncSync(this.fd);
    return this.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
