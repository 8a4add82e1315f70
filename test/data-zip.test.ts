import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ZipImages } from '../src/data/zip.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal zip writer (stored or deflated entries, no zip64), enough to test the reader on known bytes. */
function makeZip(files: { name: string; data: Buffer; deflate?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, deflate } of files) {
    const body = deflate ? deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const dir = mkdtempSync(join(tmpdir(), 'face-llava-zip-'));
function zipFile(name: string, files: Parameters<typeof makeZip>[0]): string {
  const path = join(dir, name);
  writeFileSync(path, makeZip(files));
  return path;
}

/** Distinct bytes per file, so a read from the wrong offset shows. */
function content(i: number, size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, j) => (i * 31 + j * 7) & 0xff));
}

describe('ZipImages', () => {
  it('indexes the directory and reads stored and deflated entries by name', async () => {
    const path = zipFile('small.zip', [
      { name: 'a.jpg', data: content(1, 100) },
      { name: 'sub/', data: Buffer.alloc(0) },
      { name: 'b.png', data: content(2, 5000), deflate: true },
      { name: 'empty.jpg', data: Buffer.alloc(0) },
    ]);
    const zip = await ZipImages.open(path);
    try {
      expect(zip.size).toBe(3);
      expect([...zip.names()]).toEqual(['a.jpg', 'b.png', 'empty.jpg']);
      expect(zip.has('a.jpg')).toBe(true);
      expect(zip.has('sub/')).toBe(false);
      expect(await zip.read('a.jpg')).toEqual(content(1, 100));
      expect(await zip.read('b.png')).toEqual(content(2, 5000));
      expect((await zip.read('empty.jpg')).length).toBe(0);
      await expect(zip.read('missing.jpg')).rejects.toThrow(/no entry named missing\.jpg/);
    } finally {
      zip.close();
    }
  });

  it('reads every entry of a directory larger than its read cache, in any order and concurrently', async () => {
    // 3000 entries: a central directory of about 150 KiB, several cache blocks; sizes vary across block edges.
    const files = Array.from({ length: 3000 }, (_, i) => ({ name: `img_${i}.jpg`, data: content(i, 50 + ((i * 97) % 3000)) }));
    const zip = await ZipImages.open(zipFile('many.zip', files));
    try {
      expect(zip.size).toBe(3000);
      const order = files.map((_, i) => (i * 1237) % files.length);
      const read = await Promise.all(order.map((i) => zip.read(files[i].name)));
      order.forEach((i, k) => expect(read[k].equals(files[i].data)).toBe(true));
    } finally {
      zip.close();
    }
  });

  it('rejects a file that is not a zip and a zip with a repeated name', async () => {
    const notZip = join(dir, 'not.zip');
    writeFileSync(notZip, 'hello, this is not a zip file at all');
    await expect(ZipImages.open(notZip)).rejects.toThrow();
    const twice = zipFile('twice.zip', [
      { name: 'a.jpg', data: content(1, 10) },
      { name: 'a.jpg', data: content(2, 10) },
    ]);
    await expect(ZipImages.open(twice)).rejects.toThrow(/duplicate entry a\.jpg/);
  });

  const fer = join(process.cwd(), '../shared/data/fer2013/images.zip');
  it.skipIf(!existsSync(fer))('opens a pack zip of 30 000 images and reads JPEGs from it', async () => {
    const zip = await ZipImages.open(fer);
    try {
      expect(zip.size).toBe(30705);
      const jpeg = await zip.read('PublicTest_10014592.jpg');
      expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      expect([...jpeg.subarray(-2)]).toEqual([0xff, 0xd9]);
    } finally {
      zip.close();
    }
  });
});
