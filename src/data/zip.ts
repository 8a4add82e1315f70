// Random access to the images of a pack's `images.zip`: the central directory is read once into a name → entry
// index, then each image is read on demand. The packs store their images uncompressed, but compressed entries
// are read too (yauzl inflates them).
import { close, fstat, open, read } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';

const BLOCK = 64 << 10;

interface Block {
  start: number;
  data: Buffer;
}

/**
 * The zip file as yauzl sees it. While the index is built, reads are served from a cached 64 KiB block: yauzl walks
 * the central directory with two small reads per entry, so indexing 30 000 entries costs a few dozen disk reads
 * instead of 60 000 (5× faster). Afterwards reads go straight to the file: images are read in any order, where
 * loading a block per image costs more than it saves.
 */
class CachedFileReader extends yauzl.RandomAccessReader {
  private block: Block | undefined;
  /** Whether small reads load and use the cached block; turned off once the index is built. */
  caching = true;

  constructor(
    private readonly fd: number,
    private readonly fileSize: number,
  ) {
    super();
  }

  private cached(position: number, length: number): Buffer | undefined {
    const block = this.block;
    if (!this.caching || !block || position < block.start || position + length > block.start + block.data.length) return undefined;
    return block.data.subarray(position - block.start, position - block.start + length);
  }

  // yauzl calls back with (err, bytesRead); its typings leave the count out.
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const done = callback as (err: Error | null, bytesRead?: number) => void;
    const hit = this.cached(position, length);
    if (hit) {
      setImmediate(done, null, hit.copy(buffer, offset));
      return;
    }
    if (!this.caching || length > BLOCK / 2) {
      read(this.fd, buffer, offset, length, position, (err, bytesRead) => done(err, bytesRead));
      return;
    }
    const data = Buffer.allocUnsafe(Math.min(BLOCK, this.fileSize - position));
    read(this.fd, data, 0, data.length, position, (err, bytesRead) => {
      if (err) return done(err);
      this.block = { start: position, data: data.subarray(0, bytesRead) };
      done(null, data.copy(buffer, offset, 0, Math.min(length, bytesRead)));
    });
  }

  // Not fs.createReadStream: destroying one of those closes its fd even with autoClose off, and yauzl destroys
  // every entry stream when it ends. Short reads past the end are left to yauzl's byte-count check.
  override _readStreamForRange(start: number, end: number): Readable {
    const fd = this.fd;
    let position = start;
    return new Readable({
      // One read for a typical image: a face crop is tens of KiB at most.
      highWaterMark: BLOCK,
      read(size) {
        const length = Math.min(size, end - position);
        if (length <= 0) return void this.push(null);
        const chunk = Buffer.allocUnsafe(length);
        read(fd, chunk, 0, length, position, (err, bytesRead) => {
          if (err) return void this.destroy(err);
          if (bytesRead === 0) return void this.push(null);
          position += bytesRead;
          this.push(chunk.subarray(0, bytesRead));
          if (position >= end) this.push(null);
        });
      },
    });
  }

  override close(callback: (err: Error | null) => void): void {
    close(this.fd, callback);
  }
}

export class ZipImages {
  private constructor(
    readonly path: string,
    private readonly zip: ZipFile,
    private readonly entries: ReadonlyMap<string, Entry>,
  ) {}

  /** Opens `path` and indexes its central directory; entries are read lazily, one at a time. */
  static async open(path: string): Promise<ZipImages> {
    const fd = await promisify(open)(path, 'r');
    let reader: CachedFileReader;
    let zip: ZipFile;
    try {
      const { size } = await promisify(fstat)(fd);
      reader = new CachedFileReader(fd, size);
      // autoClose off: the file must stay open after the directory walk, the reads come later.
      zip = await yauzl.fromRandomAccessReaderPromise(reader, size, { autoClose: false });
    } catch (err) {
      close(fd, () => {});
      throw err;
    }
    const entries = new Map<string, Entry>();
    try {
      for await (const entry of zip.eachEntry()) {
        if (entry.fileName.endsWith('/')) continue; // a folder, not a file
        if (entries.has(entry.fileName)) throw new Error(`${path}: duplicate entry ${entry.fileName}`);
        entries.set(entry.fileName, entry);
      }
    } catch (err) {
      zip.close();
      throw err;
    }
    reader.caching = false;
    return new ZipImages(path, zip, entries);
  }

  /** Number of files in the zip. */
  get size(): number {
    return this.entries.size;
  }

  /** File names, in central-directory order. */
  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The bytes of one file; rejects when the zip has no file of that name. */
  async read(name: string): Promise<Buffer> {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`${this.path}: no entry named ${name}`);
    return collect(await this.zip.openReadStreamPromise(entry), entry.uncompressedSize);
  }

  /** Releases the file descriptor; reads still in flight finish first (yauzl reference-counts them). */
  close(): void {
    this.zip.close();
  }
}

async function collect(stream: Readable, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    // yauzl validates entry sizes, so the chunks never overrun `size`.
    chunk.copy(out, offset);
    offset += chunk.length;
  }
  return out;
}
