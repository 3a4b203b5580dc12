/** The shared file helpers: slide-file discovery, atomic writes, CSV. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FileAccessError, SlideNotFoundError } from '../pipeline/errors.ts';
import { writeFileAtomic, writeFileAtomicWith } from '../pipeline/io/atomic-write.ts';
import { csvTable } from '../pipeline/io/csv.ts';
import { expandSlidePaths, isSlideFile, slideFileStem } from '../pipeline/io/slide-files.ts';
import { saveImageFile } from '../pipeline/slide/write-image.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('io-helpers');
afterAll(() => tmp.cleanup());

describe('slide files', () => {
  it('knows every format the reader opens, and DICOM, in any case; nothing else', () => {
    for (const f of ['a.svs', 'b.TIF', 'c.tiff', 'd.ndpi', 'e.scn', 'f.dcm', 'g.png', 'h.JPG', 'i.jpeg'])
      expect(isSlideFile(f), f).toBe(true);
    for (const f of ['a.xml', 'b.csv', 'c.geojson', 'svs', 'd.svs.tmp', 'e.mrxs'])
      expect(isSlideFile(f), f).toBe(false);
    expect(slideFileStem('/x/Tumor_001.tif')).toBe('Tumor_001');
    expect(slideFileStem('notes.txt')).toBe('notes.txt');
  });

  it('expands folders (sorted, not recursive), keeps files and URLs, lists each once', async () => {
    const dir = join(tmp.path, 'slides');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    for (const f of ['b.svs', 'a.tif', 'notes.txt', 'a.xml', 'sub/c.svs']) writeFileSync(join(dir, f), 'x');
    const url = 'https://example.org/s.svs';
    expect(await expandSlidePaths([dir, join(dir, 'a.tif'), url])).toEqual([
      join(dir, 'a.tif'),
      join(dir, 'b.svs'),
      url,
    ]);
  });

  it('names what is missing, and an empty folder unless told to skip it', async () => {
    const empty = join(tmp.path, 'empty');
    mkdirSync(empty);
    await expect(expandSlidePaths([join(tmp.path, 'nope')], { what: '--slides' })).rejects.toThrow(
      /--slides: no such file or directory/,
    );
    await expect(expandSlidePaths([empty])).rejects.toThrow(SlideNotFoundError);
    expect(await expandSlidePaths([empty], { emptyFolder: 'skip' })).toEqual([]);
  });
});

describe('atomic writes', () => {
  it('replaces the file whole, creates its folder on request, and leaves no temp file', async () => {
    const file = join(tmp.path, 'out', 'a.json');
    writeFileAtomic(file, 'one', { mkdir: true });
    writeFileAtomic(file, new TextEncoder().encode('two'));
    await writeFileAtomicWith(join(tmp.path, 'out', 'b.bin'), async (t) => writeFileSync(t, 'three'));
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(join(tmp.path, 'out')).sort()).toEqual(['a.json', 'b.bin']);
  });

  it('removes its temp file and keeps the old file when the write fails', async () => {
    const file = join(tmp.path, 'keep.txt');
    writeFileAtomic(file, 'old');
    await expect(
      writeFileAtomicWith(file, async (t) => {
        writeFileSync(t, 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(() => writeFileAtomic(join(tmp.path, 'no-such-folder', 'x'), 'y')).toThrow(/ENOENT/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(tmp.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('image files', () => {
  it('names the file it cannot write in a FileAccessError', async () => {
    const blocker = join(tmp.path, 'blocker');
    writeFileSync(blocker, 'x');
    const img = sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png();
    await expect(saveImageFile(img, join(blocker, 'x.png'))).rejects.toThrow(FileAccessError);
    await expect(
      saveImageFile(
        sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png(),
        join(blocker, 'y.png'),
      ),
    ).rejects.toThrow(/cannot write .*blocker\/y\.png/);
  });
});

describe('CSV', () => {
  it('writes a table a spreadsheet opens: CRLF, quoting, formula guard, empty for missing values', () => {
    expect(
      csvTable(
        ['name', 'n', 'ok'],
        [
          ['a,"b"', 1.5, true],
          ['=SUM(A1)', Number.NaN, null],
        ],
      ),
    ).toBe('name,n,ok\r\n"a,""b""",1.5,true\r\n\'=SUM(A1),,\r\n');
  });
});
