import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowIssue } from '../src/data/csv.js';
import { CKPLUS_AUS } from '../src/data/labels/action-units.js';
import { openClassFolders, openLabelCsv, openPack, type PackName } from '../src/data/packs.js';

const DATA = join(process.cwd(), '../shared/data');
const havePacks = existsSync(join(DATA, 'fer2013', 'labels.csv'));

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

describe.skipIf(!havePacks)('the project packs', () => {
  const counts: Record<PackName, { train: number; val: number }> = {
    fer2013: { train: 27414, val: 3291 },
    ckplus: { train: 756, val: 0 },
    celeba: { train: 7000, val: 1000 },
    utkface: { train: 18564, val: 2285 },
    realorfake: { train: 476, val: 84 },
  };

  it.each(Object.entries(counts))('%s: every row parses, split filters, images are there', async (name, expected) => {
    const pack = await openPack(name as PackName, join(DATA, name));
    try {
      const issues: RowIssue[] = [];
      const onIssue = (issue: RowIssue): number => issues.push(issue);
      let val = 0;
      for await (const row of pack.rows({ split: 'val', onIssue })) {
        expect(row.split).toBe('val');
        val++;
      }
      const all = await collect(pack.rows({ onIssue, checkImages: true }));
      expect(issues).toEqual([]);
      expect(val).toBe(expected.val);
      expect(all.length).toBe(expected.train + expected.val);
      expect((await pack.images()).size).toBe(all.length);
    } finally {
      await pack.close();
    }
  });

  it('fer2013 rows carry the dataset word and the canonical class', async () => {
    const pack = await openPack('fer2013', join(DATA, 'fer2013'));
    const labels = new Map<string, string>();
    for await (const row of pack.rows()) labels.set(row.label, row.expression);
    expect(Object.fromEntries(labels)).toEqual({
      angry: 'angry', disgust: 'disgust', fear: 'fear', happy: 'happy', neutral: 'neutral', sad: 'sad', surprise: 'surprise',
    });
  });

  it('ckplus: CK+ words map onto the classes, AUs parse, and the AUs present are CKPLUS_AUS', async () => {
    const pack = await openPack('ckplus', join(DATA, 'ckplus'));
    const rows = await collect(pack.rows());
    expect(rows[0]).toEqual({
      file: 'S005_001_00000009.png', split: 'train', subject: 'S005', sequence: 'S005_001',
      label: 'disgust', expression: 'disgust', aus: [9, 17], line: 2,
    });
    const classes = new Map(rows.map((row) => [row.label, row.expression]));
    expect(classes.get('anger')).toBe('angry');
    expect(classes.get('sadness')).toBe('sad');
    expect(classes.get('contempt')).toBe('contempt');
    // Sequences per AU (each sequence gives three frames).
    const perAu = new Map<number, Set<string>>();
    for (const row of rows) for (const au of row.aus) perAu.set(au, (perAu.get(au) ?? new Set()).add(row.sequence));
    expect([...perAu.keys()].sort((a, b) => a - b)).toEqual(CKPLUS_AUS);
    expect(perAu.get(1)!.size).toBe(102);
    expect(perAu.get(25)!.size).toBe(142);
    expect(perAu.get(21)!.size).toBe(1);
    expect(new Set(rows.map((row) => row.subject)).size).toBe(90);
    const png = await pack.readImage(rows[0].file);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    await pack.close();
  });

  it('celeba rows have the 40 attributes as booleans; utkface ages and realorfake labels are typed', async () => {
    const celeba = await openPack('celeba', join(DATA, 'celeba'));
    const [first] = await collect(celeba.rows({ split: 'train' }));
    expect(Object.keys(first.attributes)).toHaveLength(40);
    expect(first.attributes.Arched_Eyebrows).toBe(true);
    expect(first.attributes.Male).toBe(false);
    expect(first.attributes.No_Beard).toBe(true);
    const utk = await openPack('utkface', join(DATA, 'utkface'));
    const ages = (await collect(utk.rows())).map((row) => row.age);
    expect(Math.min(...ages)).toBe(1);
    expect(Math.max(...ages)).toBe(116);
    const rof = await openPack('realorfake', join(DATA, 'realorfake'));
    const labels = new Set((await collect(rof.rows())).map((row) => row.label));
    expect([...labels].sort()).toEqual(['fake', 'real']);
  });

  it('throws when a pack lacks a column', async () => {
    await expect(openPack('ckplus', join(DATA, 'fer2013'))).rejects.toThrow(/missing column\(s\) subject, sequence, aus/);
  });
});

describe('a malformed pack', () => {
  it('reports bad rows with their line and reason, and keeps the good ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'face-llava-pack-'));
    writeFileSync(
      join(dir, 'labels.csv'),
      [
        'file,split,subject,sequence,label,aus',
        'a.png,train,S1,S1_1,anger,1 2 4',
        'b.png,test,S1,S1_1,anger,1',
        'c.png,train,S1,S1_1,angry,1',
        'd.png,train,S1,S1_1,fear,1 99',
        'e.png,train,S1,S1_1,fear',
        ',train,S1,S1_1,fear,',
        'f.png,train,S2,S2_1,happy,AU6 AU12C',
      ].join('\n'),
    );
    const pack = await openPack('ckplus', dir);
    const issues: RowIssue[] = [];
    const rows = await collect(pack.rows({ onIssue: (issue) => issues.push(issue) }));
    expect(rows.map((row) => [row.file, row.expression, row.aus])).toEqual([
      ['a.png', 'angry', [1, 2, 4]],
      ['f.png', 'happy', [6, 12]],
    ]);
    expect(issues.map((issue) => issue.line)).toEqual([3, 4, 5, 6, 7]);
    expect(issues[0].reason).toMatch(/^split: /);
    expect(issues[1].reason).toMatch(/^label: /);
    expect(issues[2].reason).toBe('aus: not a list of FACS AU numbers: "1 99"');
    expect(issues[3].reason).toBe('expected 6 fields, found 5');
    expect(issues[4].reason).toMatch(/^file: /);
  });
});

describe("a user's labels", () => {
  const dir = mkdtempSync(join(tmpdir(), 'face-llava-user-'));
  const images = join(dir, 'images');
  mkdirSync(join(images, 'sub'), { recursive: true });
  writeFileSync(join(images, 'one.jpg'), 'ONE');
  writeFileSync(join(images, 'sub', 'two.png'), 'TWO');
  writeFileSync(join(images, 'notes.txt'), 'not an image');

  it('reads a CSV with a custom file column and no split, and looks images up in a folder', async () => {
    const csv = join(dir, 'mine.csv');
    writeFileSync(csv, 'image,emotion,age\none.jpg,Joyful,31\nsub/two.png,furious,\n  ,sad,3\nthree.jpg,sad,40\n');
    const pack = await openLabelCsv({ csv, images, fileColumn: 'image' });
    const issues: RowIssue[] = [];
    const rows = await collect(pack.rows({ onIssue: (issue) => issues.push(issue), checkImages: true }));
    expect(rows).toEqual([
      { file: 'one.jpg', labels: { emotion: 'Joyful', age: '31' }, line: 2 },
      { file: 'sub/two.png', labels: { emotion: 'furious', age: '' }, line: 3 },
    ]);
    expect(issues).toEqual([
      { file: csv, line: 4, reason: 'empty image' },
      { file: csv, line: 5, reason: 'image three.jpg not found' },
    ]);
    expect((await pack.readImage('sub/two.png')).toString()).toBe('TWO');
    await expect(pack.readImage('../mine.csv')).rejects.toThrow(/no image named/);
    await expect(pack.readImage('notes.txt')).rejects.toThrow(/no image named/);
  });

  it('filters by a split column when the CSV has one', async () => {
    const csv = join(dir, 'split.csv');
    writeFileSync(csv, 'file,split,label\none.jpg,train,happy\nsub/two.png,val,sad\n');
    const pack = await openLabelCsv({ csv, images });
    expect(await collect(pack.rows({ split: 'val' }))).toEqual([{ file: 'sub/two.png', split: 'val', labels: { label: 'sad' }, line: 3 }]);
  });

  it('reads a folder per class, with or without split folders', async () => {
    const flat = join(dir, 'flat');
    for (const [cls, name] of [['happy', 'a.jpg'], ['happy', 'b.jpg'], ['sad', 'c.png']]) {
      mkdirSync(join(flat, cls), { recursive: true });
      writeFileSync(join(flat, cls, name), name);
    }
    writeFileSync(join(flat, 'stray.jpg'), 'no class');
    const issues: RowIssue[] = [];
    const pack = await openClassFolders(flat);
    expect(await collect(pack.rows({ onIssue: (issue) => issues.push(issue) }))).toEqual([
      { file: 'happy/a.jpg', labels: { label: 'happy' } },
      { file: 'happy/b.jpg', labels: { label: 'happy' } },
      { file: 'sad/c.png', labels: { label: 'sad' } },
    ]);
    expect(issues).toEqual([{ file: join(flat, 'stray.jpg'), reason: 'not in a class folder' }]);
    expect((await pack.readImage('sad/c.png')).toString()).toBe('c.png');

    const split = join(dir, 'split');
    for (const [s, cls] of [['train', 'angry'], ['val', 'angry'], ['val', 'fear']]) {
      mkdirSync(join(split, s, cls), { recursive: true });
      writeFileSync(join(split, s, cls, 'x.jpg'), 'x');
    }
    const bySplit = await openClassFolders(split);
    expect(await collect(bySplit.rows({ split: 'val' }))).toEqual([
      { file: 'val/angry/x.jpg', split: 'val', labels: { label: 'angry' } },
      { file: 'val/fear/x.jpg', split: 'val', labels: { label: 'fear' } },
    ]);
  });
});
