/**
 * Aperio ImageDescription: "Aperio Image Library v12.0.15 \r\n46000x32914 [0,100 46000x32893] (240x240) JPEG/RGB Q=70|AppMag = 20|MPP = 0.4990|..."
 * The first segment is free text; the rest are `key = value` pairs.
 */
export interface AperioMeta {
  properties: Record<string, string>;
  mpp?: number;
  objectivePower?: number;
}

export function isAperio(description: string): boolean {
  return description.startsWith('Aperio');
}

export function parseAperioDescription(description: string): AperioMeta {
  const properties: Record<string, string> = {};
  const segments = description.split('|');
  properties['aperio.Header'] = segments[0].trim();
  for (const seg of segments.slice(1)) {
    const eq = seg.indexOf('=');
    if (eq < 0) continue;
    const key = seg.slice(0, eq).trim();
    if (key) properties[`aperio.${key}`] = seg.slice(eq + 1).trim();
  }
  const positive = (v: string | undefined) => {
    const n = v === undefined ? Number.NaN : Number(v);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  return {
    properties,
    mpp: positive(properties['aperio.MPP']),
    objectivePower: positive(properties['aperio.AppMag']),
  };
}
