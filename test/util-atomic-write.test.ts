// writeFileAtomic: the target holds the old bytes or the new ones, never part of them, and no temporary file stays.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/util/atomic-write.js';

const dir = mkdtempSync(join(tmpdir(), 'face-llava-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates and replaces a file, leaving only the file', async () => {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, '{"v":1}');
    await writeFileAtomic(path, new Uint8Array([123, 125]));
    expect(readFileSync(path, 'utf8')).toBe('{}');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('concurrent writers each rename a complete file of their own', async () => {
    const path = join(dir, 'b.txt');
    const texts = Array.from({ length: 8 }, (_, i) => String(i).repeat(100_000));
    await Promise.all(texts.map((t) => writeFileAtomic(path, t)));
    expect(texts).toContain(readFileSync(path, 'utf8'));
    expect(readdirSync(dir).filter((f) => f.startsWith('b.txt'))).toEqual(['b.txt']);
  });

  it('a failed write throws, keeps the other files and leaves no temporary file', async () => {
    const path = join(dir, 'c.txt');
    writeFileSync(path, 'old');
    // A folder where the file should go: the temporary file is written beside it, then the rename fails.
    const folder = join(dir, 'd');
    mkdirSync(folder);
    writeFileSync(join(folder, 'inside'), 'kept');
    await expect(writeFileAtomic(folder, 'not a folder')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readFileSync(join(folder, 'inside'), 'utf8')).toBe('kept');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
