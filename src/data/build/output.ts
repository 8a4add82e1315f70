// The output folder of a build, written so that an interrupted build resumes to exactly the result of an
// uninterrupted one:
//
//   shard-00000.jsonl …   the samples, `shardSize` per shard, in source order
//   rejected.jsonl        every source row or sample that was dropped, with the reason
//   manifest.json         the checkpoint: the build's settings, how many source events were consumed, the last
//                         one's id, and the byte length of every file at that point
//
// Outcomes are appended in source order. At a checkpoint the data files are fsynced, then the manifest is written
// to a temporary file, fsynced and renamed over the old one, so the manifest on disk always describes a prefix of
// the data that is safely on disk. Resuming truncates every file to its checkpointed length (dropping whatever
// was written after it, a half-written last line included), removes shards begun after it, and skips the
// consumed events: no duplicates, no gaps.
import { open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaceInstructRecord, Ratings } from './types.js';

export const MANIFEST = 'manifest.json';
export const REJECTED = 'rejected.jsonl';
export const FORMAT = 'faceinstruct/1';
const SHARD = /^shard-(\d{5})\.jsonl$/;

export const shardName = (index: number): string => `shard-${String(index).padStart(5, '0')}.jsonl`;

/** A line of rejected.jsonl. */
export interface Rejection {
  id: string;
  source: string;
  reason: string;
  detail: string;
  ratings?: Ratings;
}

export type Outcome = { kind: 'record'; record: FaceInstructRecord } | { kind: 'drop'; rejection: Rejection };

interface FileState {
  file: string;
  bytes: number;
  lines: number;
}

export interface Manifest {
  format: typeof FORMAT;
  /** The settings that decide the output; a resume must use the same. */
  config: Record<string, unknown>;
  /** Source events (rows and malformed rows) consumed, and the id of the last. */
  consumed: number;
  lastId: string | null;
  shards: FileState[];
  rejected: FileState;
  dropped: Record<string, number>;
  /** True once every source was read to its end (not merely up to --limit). */
  exhausted: boolean;
}

/** The position a build resumes from. */
export interface ResumePoint {
  consumed: number;
  lastId: string | null;
}

/** The file opened for appending after its first `bytes` bytes (what was checkpointed); the rest is cut off. */
async function fileHandleAt(path: string, bytes: number): Promise<FileHandle> {
  const handle = await open(path, 'a+');
  const { size } = await handle.stat();
  if (size < bytes) {
    await handle.close();
    throw new Error(`${path} holds ${size} bytes, fewer than the ${bytes} checkpointed: the output folder was altered`);
  }
  await handle.truncate(bytes);
  return handle;
}

export class OutputWriter {
  private shard: FileHandle | undefined;
  private rejected!: FileHandle;

  private constructor(
    private readonly dir: string,
    private readonly manifest: Manifest,
    private readonly shardSize: number,
  ) {}

  /**
   * Opens `dir` for a build with `config`: a new build when the folder has no manifest (and no shards), else the
   * checkpointed build, truncated to its checkpoint. Throws when the folder holds a build with other settings.
   */
  static async open(dir: string, config: Record<string, unknown>, shardSize: number): Promise<OutputWriter> {
    let manifest: Manifest;
    const existing = await readManifest(dir);
    const files = await readdir(dir);
    if (existing) {
      const before = JSON.stringify(existing.config);
      if (before !== JSON.stringify(config)) {
        throw new Error(`${dir} holds a build with other settings (${before}); resume it with those, or use a new --out`);
      }
      manifest = existing;
      const kept = new Set(manifest.shards.map((s) => s.file));
      for (const file of files) if (SHARD.test(file) && !kept.has(file)) await rm(join(dir, file));
    } else {
      if (files.some((file) => SHARD.test(file) || file === REJECTED)) {
        throw new Error(`${dir} holds shards but no ${MANIFEST}: not a resumable build; use a new --out`);
      }
      manifest = {
        format: FORMAT,
        config,
        consumed: 0,
        lastId: null,
        shards: [],
        rejected: { file: REJECTED, bytes: 0, lines: 0 },
        dropped: {},
        exhausted: false,
      };
    }
    const writer = new OutputWriter(dir, manifest, shardSize);
    writer.rejected = await fileHandleAt(join(dir, REJECTED), manifest.rejected.bytes);
    const last = manifest.shards.at(-1);
    if (last) writer.shard = await fileHandleAt(join(dir, last.file), last.bytes);
    // A new build gets its manifest before its first line, so that a build killed at any point can resume.
    if (!existing) await writer.checkpoint();
    return writer;
  }

  get resumePoint(): ResumePoint {
    return { consumed: this.manifest.consumed, lastId: this.manifest.lastId };
  }

  /** Source rows consumed, samples written and rows dropped so far. */
  get progress(): { consumed: number; records: number; dropped: number } {
    return {
      consumed: this.manifest.consumed,
      records: this.manifest.shards.reduce((sum, s) => sum + s.lines, 0),
      dropped: Object.values(this.manifest.dropped).reduce((sum, n) => sum + n, 0),
    };
  }

  get dropped(): Readonly<Record<string, number>> {
    return this.manifest.dropped;
  }

  /** Appends one source event's outcome (a sample, a drop) and counts the event as consumed. */
  async write(id: string, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'record') {
      let state = this.manifest.shards.at(-1);
      if (!state || state.lines >= this.shardSize) {
        await this.shard?.sync();
        await this.shard?.close();
        state = { file: shardName(this.manifest.shards.length), bytes: 0, lines: 0 };
        this.manifest.shards.push(state);
        this.shard = await fileHandleAt(join(this.dir, state.file), 0);
      }
      state.bytes += await append(this.shard!, JSON.stringify(outcome.record));
      state.lines++;
    } else {
      const { reason } = outcome.rejection;
      this.manifest.rejected.bytes += await append(this.rejected, JSON.stringify(outcome.rejection));
      this.manifest.rejected.lines++;
      this.manifest.dropped[reason] = (this.manifest.dropped[reason] ?? 0) + 1;
    }
    this.manifest.consumed++;
    this.manifest.lastId = id;
  }

  /** Makes everything written so far durable and records it in the manifest. */
  async checkpoint(exhausted = false): Promise<void> {
    await this.shard?.sync();
    await this.rejected.sync();
    this.manifest.exhausted = exhausted;
    const path = join(this.dir, MANIFEST);
    const tmp = `${path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(this.manifest, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  async close(): Promise<void> {
    await this.shard?.close();
    await this.rejected.close();
  }
}

async function append(handle: FileHandle, json: string): Promise<number> {
  const line = Buffer.from(json + '\n');
  await handle.write(line);
  return line.length;
}

/** The manifest of an output folder, or null when there is none. */
export async function readManifest(dir: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const manifest = JSON.parse(text) as Manifest;
  if (manifest.format !== FORMAT) throw new Error(`${join(dir, MANIFEST)}: unknown format ${String(manifest.format)}`);
  return manifest;
}
