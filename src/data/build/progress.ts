// A progress bar on stderr for long builds. On a terminal it redraws one line in place (at most ten times a
// second); otherwise (a log file, CI) it prints a plain line every 30 seconds, so logs stay readable.

export interface ProgressState {
  /** Source rows done, this run and earlier ones. */
  consumed: number;
  records: number;
  dropped: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class ProgressBar {
  private readonly started = Date.now();
  private startConsumed: number | undefined;
  private lastDraw = 0;
  private last: ProgressState = { consumed: 0, records: 0, dropped: 0 };
  private drawn = false;

  constructor(
    /** Rows the build will have done when it ends, if known. */
    private readonly total: number | undefined,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  update(state: ProgressState): void {
    this.startConsumed ??= state.consumed - 1;
    this.last = state;
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 100 : 30_000)) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Prints a message above the bar. */
  log(message: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(message + '\n');
    if (this.tty && this.drawn) this.draw();
  }

  /** Draws the final state and ends the line. */
  done(): void {
    this.draw();
    if (this.tty) this.stream.write('\n');
  }

  private line(): string {
    const { consumed, records, dropped } = this.last;
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = (consumed - (this.startConsumed ?? consumed)) / Math.max(elapsed, 1e-3);
    const counts = `${records} kept, ${dropped} dropped, ${rate.toFixed(1)} rows/s, ${duration(elapsed)}`;
    if (this.total === undefined || this.total <= 0) return `${consumed} rows (${counts})`;
    const share = Math.min(1, consumed / this.total);
    const eta = rate > 0 ? (this.total - consumed) / rate : Infinity;
    const text = `${consumed}/${this.total} ${(share * 100).toFixed(1)}% (${counts}, eta ${duration(eta)})`;
    if (!this.tty) return text;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - text.length - 4));
    const filled = Math.round(share * width);
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
  }

  private draw(): void {
    if (this.tty) this.stream.write(`\r\x1b[K${this.line()}`);
    else this.stream.write(this.line() + '\n');
    this.drawn = true;
  }
}
