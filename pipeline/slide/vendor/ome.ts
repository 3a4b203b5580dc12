/** OME-XML (in the first page's ImageDescription): physical pixel size of the first image, in µm. */
export function isOmeXml(description: string): boolean {
  return description.includes('<OME') && description.includes('</OME>');
}

const TO_UM: Record<string, number> = { µm: 1, um: 1, μm: 1, nm: 1e-3, mm: 1e3, cm: 1e4, m: 1e6, Å: 1e-4 };

export interface OmeMeta {
  mpp?: { x: number; y: number };
  name?: string;
  properties: Record<string, string>;
}

/** Async only to import the XML parser on first use (`wsi info` on other slides never loads it). */
export async function parseOmeXml(xml: string): Promise<OmeMeta> {
  const { XMLParser } = await import('fast-xml-parser');
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true });
  const doc = parser.parse(xml) as { OME?: { Image?: unknown } };
  const images = doc.OME?.Image;
  const image = (Array.isArray(images) ? images[0] : images) as
    | { Name?: string; Pixels?: Record<string, string | undefined> }
    | undefined;
  const px = image?.Pixels ?? {};
  const size = (v: string | undefined, unit: string | undefined) => {
    const n = Number(v);
    const f = TO_UM[unit ?? 'µm'];
    return v !== undefined && Number.isFinite(n) && n > 0 && f !== undefined ? n * f : undefined;
  };
  const x = size(px.PhysicalSizeX, px.PhysicalSizeXUnit);
  const y = size(px.PhysicalSizeY, px.PhysicalSizeYUnit);
  const properties: Record<string, string> = {};
  for (const k of ['SizeX', 'SizeY', 'SizeC', 'SizeZ', 'SizeT', 'Type', 'PhysicalSizeX', 'PhysicalSizeY']) {
    if (px[k] !== undefined) properties[`ome.${k}`] = String(px[k]);
  }
  return {
    mpp: x !== undefined ? { x, y: y ?? x } : undefined,
    name: image?.Name,
    properties,
  };
}
