import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tiff16, tiff16Pages, tiff16Samples } from '../fixtures/plate/tiff16.ts';
import { fileLayout, readChannel } from '../pipeline/counting/channels.ts';
import { parseWell } from '../pipeline/counting/plate.ts';
import {
  channelNames,
  channelOfName,
  parseChannelFlag,
  planeOfName,
  planFields,
} from '../pipeline/counting/plate-layout.ts';
import { ConfigError, SlideFormatError } from '../pipeline/errors.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('plate-layout');
afterAll(() => tmp.cleanup());

describe('instrument file names', () => {
  it('reads well, field and channel from ImageXpress and Operetta/Opera Phenix names', () => {
    expect(parseWell('Plate_A01_s1_w1.tif', 384)).toEqual({ well: 'A01', row: 0, col: 0, field: 1 });
    expect(channelOfName('Plate_A01_s1_w1.tif')).toBe(1);
    expect(channelOfName('Plate_P24_s3_w2A1B2C3D4-0000-1111-2222-333344445555.tif')).toBe(2);
    expect(parseWell('Plate_P24_s3_w2.tif', 384)).toEqual({ well: 'P24', row: 15, col: 23, field: 3 });
    expect(channelOfName('Plate_B03_w3.tif')).toBe(3);
    expect(parseWell('r16c24f09p01-ch2sk1fk1fl1.tiff', 384)).toEqual({
      well: 'P24',
      row: 15,
      col: 23,
      field: 9,
    });
    expect(channelOfName('r16c24f09p01-ch2sk1fk1fl1.tiff')).toBe(2);
    expect(planeOfName('r01c01f01p03-ch1sk1fk1fl1.tiff')).toBe(3);
    // Patterns handled before keep working and carry no channel.
    expect(channelOfName('exp3_B07_s2.png')).toBeUndefined();
    expect(channelOfName('plate1_A01.png')).toBeUndefined();
    expect(channelOfName('BM_GRAZ_HE_0001_01_000.png')).toBeUndefined();
  });

  it('parses --channel as a 1-based index or a name', () => {
    expect(parseChannelFlag('2')).toEqual({ index: 2 });
    expect(parseChannelFlag('dapi')).toEqual({ name: 'dapi' });
    expect(parseChannelFlag(undefined)).toBeUndefined();
    expect(() => parseChannelFlag('0')).toThrow(ConfigError);
    expect(() => parseChannelFlag(' ')).toThrow(ConfigError);
  });

  it('names channels from an ImageXpress .HTD or a Harmony Index.idx.xml', () => {
    const ix = path.join(tmp.path, 'ix');
    const op = path.join(tmp.path, 'op');
    mkdirSync(ix, { recursive: true });
    mkdirSync(op, { recursive: true });
    writeFileSync(
      path.join(ix, 'Plate.HTD'),
      '"NWavelengths", 2\r\n"WaveName1", "DAPI"\r\n"WaveName2", "FITC"\r\n',
    );
    writeFileSync(
      path.join(op, 'Index.idx.xml'),
      '<Maps><Map><Entry ChannelID="1"><ChannelID>1</ChannelID><ChannelName>Alexa 488</ChannelName></Entry>' +
        '<Entry ChannelID="2"><ChannelID>2</ChannelID><ChannelName>HOECHST 33342</ChannelName></Entry></Map></Maps>',
    );
    expect([...channelNames(ix)]).toEqual([
      [1, 'DAPI'],
      [2, 'FITC'],
    ]);
    expect(channelNames(op).get(2)).toBe('HOECHST 33342');

    const files = ['r01c01f01p01-ch1sk1fk1fl1.tiff', 'r01c01f01p01-ch2sk1fk1fl1.tiff'].map((f) =>
      path.join(op, f),
    );
    // No --channel: the nuclear stain by name (channel 2 here), not simply the first channel.
    const plan = planFields(files, { plate: 384 });
    expect(plan.fields.map((f) => [path.basename(f.file), f.channel])).toEqual([
      ['r01c01f01p01-ch2sk1fk1fl1.tiff', '2 (HOECHST 33342)'],
    ]);
    expect(plan.note).toMatch(/nuclear stain/);
    expect(planFields(files, { plate: 384, channel: 'alexa' }).fields[0].channel).toBe('1 (Alexa 488)');
    expect(planFields(files, { plate: 384, channel: '1' }).fields[0].file).toBe(files[0]);
    expect(() => planFields(files, { plate: 384, channel: 'cy5' })).toThrow(/no channel of that name/);
    expect(() => planFields(files, { plate: 384, channel: '3' })).toThrow(/have channels 1, 2/);
  });

  it('counts the first plane of a z-stack once per field', () => {
    const files = ['p01', 'p02'].flatMap((p) =>
      ['ch1', 'ch2'].map((c) => `/x/r02c03f01${p}-${c}sk1fk1fl1.tiff`),
    );
    const plan = planFields(files, { plate: 96, channel: '1' });
    expect(plan.fields.map((f) => path.basename(f.file))).toEqual(['r02c03f01p01-ch1sk1fk1fl1.tiff']);
    expect(plan.fields[0].position).toMatchObject({ well: 'B03', field: 1 });
    expect(plan.note).toMatch(/plane 1/);
  });
});

describe('16-bit and multi-channel TIFF', () => {
  const w = 7;
  const h = 5;
  const a = new Uint16Array(w * h).map((_, i) => i * 1000);
  const b = new Uint16Array(w * h).map((_, i) => 65535 - i);

  it('reads 16-bit greyscale at full precision, pages and samples as channels', async () => {
    const one = path.join(tmp.path, 'one.tif');
    const pages = path.join(tmp.path, 'pages.tif');
    const samples = path.join(tmp.path, 'samples.tif');
    writeFileSync(one, tiff16({ data: a, width: w, height: h }));
    writeFileSync(
      pages,
      tiff16Pages([
        { data: a, width: w, height: h },
        { data: b, width: w, height: h },
      ]),
    );
    writeFileSync(
      samples,
      tiff16Samples([
        { data: a, width: w, height: h },
        { data: b, width: w, height: h },
      ]),
    );
    expect(await fileLayout(one)).toEqual({ pages: 1, samples: 1, bitDepth: 16, rgb: false });
    for (const file of [one, pages, samples]) {
      const c0 = await readChannel(file, 0);
      expect([c0.width, c0.height, c0.bitDepth]).toEqual([w, h, 16]);
      expect(Array.from(c0.data, (v) => Math.round(v * 65535))).toEqual(Array.from(a));
    }
    for (const file of [pages, samples]) {
      const c1 = await readChannel(file, 1);
      expect(c1.channels).toBe(2);
      expect(Array.from(c1.data, (v) => Math.round(v * 65535))).toEqual(Array.from(b));
      await expect(readChannel(file, 2)).rejects.toThrow(/has 2 channel/);
    }
    await expect(readChannel(one, 1)).rejects.toBeInstanceOf(ConfigError);
    const bad = path.join(tmp.path, 'bad.tif');
    writeFileSync(bad, 'II*\0not a tiff');
    await expect(readChannel(bad)).rejects.toBeInstanceOf(SlideFormatError);
  });

  it('with --channel, files without a channel token are read at that page or sample', () => {
    const plan = planFields(['/p/Plate_A01_s1.tif', '/p/Plate_A01_s2.tif'], { plate: 96, channel: '2' });
    expect(plan.fields.map((f) => [f.channelInFile, f.channel, f.position?.field])).toEqual([
      [1, '2', 1],
      [1, '2', 2],
    ]);
    expect(planFields(['/p/Plate_A01_s1.tif'], { plate: 96 }).fields[0].channelInFile).toBeUndefined();
  });
});
