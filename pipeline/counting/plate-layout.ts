/**
 * Plate layouts as instruments write them: which file (and which channel inside it) is the field to
 * count. Channel tokens in names:
 *   Plate_A01_s1_w1.tif, Plate_A01_s1_w2<GUID>.tif .... ImageXpress / MetaXpress: wavelength w1, w2…
 *   r01c01f01p01-ch1sk1fk1fl1.tiff ..................... Operetta / Opera Phenix (Harmony): channel ch1…
 * Names without a channel token are one file per field (8-bit RGB, 16-bit grey, or a multi-channel
 * TIFF whose pages or samples are the channels). Channel names come from the instrument's metadata
 * beside the images: an ImageXpress `.HTD` file (`"WaveName1", "DAPI"`) or a Harmony `Index.idx.xml`
 * / `Index.xml` (`<ChannelID>1</ChannelID>…<ChannelName>HOECHST 33342</ChannelName>`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { type PlateFormat, type PlateImage, parseWell, plateName } from './plate.ts';

const IMAGEXPRESS_CHANNEL = /_s\d{1,3}_w(\d{1,2})(?:[0-9A-F]{8}-?[0-9A-F-]{27,})?$|_w(\d{1,2})$/i;
const HARMONY_CHANNEL = /^r\d{1,2}c\d{1,2}f\d{1,3}(?:p(\d{1,3}))?-ch(\d{1,2})/i;

/** 1-based channel number written in a file name, or undefined. */
export function channelOfName(file: string): number | undefined {
  const stem = path.basename(file).replace(/\.[a-z0-9]+$/i, '');
  const h = HARMONY_CHANNEL.exec(stem);
  if (h) return Number(h[2]);
  const x = IMAGEXPRESS_CHANNEL.exec(stem);
  if (x) return Number(x[1] ?? x[2]);
  return undefined;
}

/** Z-plane of a Harmony name (p01), else 1. */
export function planeOfName(file: string): number {
  const h = HARMONY_CHANNEL.exec(path.basename(file));
  return h?.[1] ? Number(h[1]) : 1;
}

/** Channel names by 1-based number from instrument metadata in a folder (empty when there is none). */
export function channelNames(dir: string): Map<number, string> {
  const names = new Map<number, string>();
  if (!existsSync(dir)) return names;
  for (const f of readdirSync(dir)) {
    if (/\.htd$/i.test(f)) {
      const text = readFileSync(path.join(dir, f), 'latin1');
      for (const m of text.matchAll(/"WaveName(\d+)"\s*,\s*"([^"]*)"/gi)) names.set(Number(m[1]), m[2]);
    } else if (/^index(\.idx)?\.xml$/i.test(f)) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      for (const m of text.matchAll(/<Entry[^>]*>([\s\S]*?)<\/Entry>/g)) {
        const id = /<ChannelID>(\d+)<\/ChannelID>/.exec(m[1]);
        const name = /<ChannelName>([^<]*)<\/ChannelName>/.exec(m[1]);
        if (id && name && !names.has(Number(id[1]))) names.set(Number(id[1]), name[1].trim());
      }
    }
  }
  return names;
}

/** Stains that mark nuclei: the default channel when names are known. */
const NUCLEAR = /dapi|hoechst|draq5|nuc|h2b|sytox|propidium/i;

export interface ChannelRequest {
  /** 1-based index. */
  index?: number;
  /** Case-insensitive substring of a channel name. */
  name?: string;
}

/** `--channel 2` (1-based) or `--channel DAPI` (a name, or part of one). */
export function parseChannelFlag(v: string | undefined): ChannelRequest | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t === '') throw new ConfigError('--channel needs a number (1-based) or a channel name');
  if (/^\d+$/.test(t)) {
    const index = Number(t);
    if (index < 1) throw new ConfigError(`--channel is 1-based, got ${t}`);
    return { index };
  }
  return { name: t };
}

export interface FieldToCount {
  /** The file that holds the chosen channel. */
  file: string;
  /** 0-based channel inside the file (page or sample); undefined: the file as it is (RGB or grey). */
  channelInFile?: number;
  /** Channel as reported: `2` or `2 (DAPI)`; undefined when the image is counted as a whole. */
  channel?: string;
  position?: PlateImage;
}

export interface FieldPlan {
  fields: FieldToCount[];
  /** One line for the user: which channel was counted and why. */
  note?: string;
}

function resolveRequest(
  req: ChannelRequest | undefined,
  names: Map<number, string>,
  available: number[],
): { index: number; why: string } {
  if (req?.index !== undefined) {
    if (available.length && !available.includes(req.index)) {
      throw new ConfigError(`--channel ${req.index}: the files have channels ${available.join(', ')}`);
    }
    return { index: req.index, why: 'as asked' };
  }
  if (req?.name !== undefined) {
    const want = req.name.toLowerCase();
    const hit = [...names].find(([, n]) => n.toLowerCase().includes(want));
    if (!hit) {
      const known = names.size ? [...names].map(([i, n]) => `${i}=${n}`).join(', ') : 'none';
      throw new ConfigError(`--channel ${req.name}: no channel of that name (channel names: ${known})`);
    }
    return { index: hit[0], why: 'by name' };
  }
  const nuclear = [...names].find(
    ([i, n]) => NUCLEAR.test(n) && (!available.length || available.includes(i)),
  );
  if (nuclear) return { index: nuclear[0], why: 'the nuclear stain' };
  return { index: available.length ? Math.min(...available) : 1, why: 'the first channel (no --channel)' };
}

function label(index: number, names: Map<number, string>): string {
  const n = names.get(index);
  return n ? `${index} (${n})` : String(index);
}

/**
 * Which file and channel to count per field. Files with a channel token are grouped per field and the
 * chosen channel is kept (the others are skipped); files without one are counted whole unless
 * --channel picks a page or sample inside them. Well positions are parsed as in plate.ts.
 */
export function planFields(
  images: readonly string[],
  o: { channel?: string; plate: PlateFormat; pattern?: RegExp },
): FieldPlan {
  const req = parseChannelFlag(o.channel);
  const withToken = images.filter((f) => channelOfName(f) !== undefined);
  const names = new Map<number, string>();
  for (const dir of new Set(images.map((f) => path.dirname(f)))) {
    for (const [k, v] of channelNames(dir)) if (!names.has(k)) names.set(k, v);
  }
  const position = (f: string): PlateImage | undefined => {
    const w = parseWell(f, o.plate, o.pattern);
    return w ? { ...w, plate: plateName(f, o.pattern) } : undefined;
  };
  const fields: FieldToCount[] = [];
  let note: string | undefined;
  if (withToken.length > 0) {
    const available = [...new Set(withToken.map((f) => channelOfName(f)!))].sort((a, b) => a - b);
    const { index, why } = resolveRequest(req, names, available);
    note = `counting channel ${label(index, names)}: ${why}; ${available.length} channel(s) in the names`;
    // Z-stacks (Harmony p01, p02…): the first plane is counted, once per field.
    const plane = Math.min(...withToken.map(planeOfName));
    if (withToken.some((f) => planeOfName(f) !== plane)) note += `; plane ${plane} of each z-stack`;
    for (const f of withToken) {
      if (channelOfName(f) !== index || planeOfName(f) !== plane) continue;
      fields.push({ file: f, channel: label(index, names), position: position(f) });
    }
  }
  const whole = images.filter((f) => channelOfName(f) === undefined);
  if (whole.length > 0) {
    if (req) {
      const { index, why } = resolveRequest(req, names, []);
      note = note ?? `counting channel ${label(index, names)} of each file: ${why}`;
      for (const f of whole) {
        fields.push({
          file: f,
          channelInFile: index - 1,
          channel: label(index, names),
          position: position(f),
        });
      }
    } else {
      for (const f of whole) fields.push({ file: f, position: position(f) });
    }
  }
  if (fields.length === 0) throw new ConfigError('no images of the chosen channel to count');
  fields.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { fields, note };
}
