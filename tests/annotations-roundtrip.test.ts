import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseAsapXml,
  parseGeoJson,
  pointInRings,
  type Ring,
  rasterizeRings,
  toAsapXml,
  toGeoJson,
} from '../pipeline/annotations/index.ts';
import { ConfigError } from '../pipeline/errors.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import { loadAnnotations, saveAnnotations } from '../pipeline/store/annotations-queries.ts';
import { openStore, upsertSlide } from '../pipeline/store/index.ts';
import { tempDir } from './helpers/paths.ts';

/** CAMELYON16-style file: tumour groups _0/_1, exclusion _2, exponent and decimal-comma numbers, a spline, a dot. */
const ASAP = `<?xml version="1.0"?>
<ASAP_Annotations>
  <Annotations>
    <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="1.2345e+004" Y="20000" />
        <Coordinate Order="2" X="13000.75" Y="21000.25" />
        <Coordinate Order="1" X="13000" Y="20000" />
        <Coordinate Order="3" X="12345" Y="21000" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 1" Type="Spline" PartOfGroup="_1" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="500,5" Y="600" />
        <Coordinate Order="1" X="900" Y="650" />
        <Coordinate Order="2" X="700" Y="1000" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 2" Type="Polygon" PartOfGroup="_2" Color="#64FE2E">
      <Coordinates>
        <Coordinate Order="0" X="12500" Y="20200" />
        <Coordinate Order="1" X="12700" Y="20200" />
        <Coordinate Order="2" X="12700" Y="20400" />
        <Coordinate Order="3" X="12500" Y="20400" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Tumor" Type="Polygon" PartOfGroup="None" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="0" Y="0" /><Coordinate Order="1" X="10" Y="0" /><Coordinate Order="2" X="0" Y="10" />
      </Coordinates>
    </Annotation>
    <Annotation Name="marker" Type="Dot" PartOfGroup="None" Color="#000000">
      <Coordinates><Coordinate Order="0" X="42" Y="43" /></Coordinates>
    </Annotation>
    <Annotation Name="empty" Type="Polygon" PartOfGroup="_0"><Coordinates /></Annotation>
  </Annotations>
  <AnnotationGroups>
    <Group Name="_0" PartOfGroup="None" Color="#FF0000"><Attributes /></Group>
  </AnnotationGroups>
</ASAP_Annotations>`;

function fakeSlide(id: string): Slide {
  const notUsed = () => Promise.reject(new Error('not used'));
  return {
    id,
    source: `/data/${id}.tif`,
    format: 'generic-tiff',
    vendor: 'generic',
    levels: [{ width: 30000, height: 30000, downsample: 1, tileWidth: 256, tileHeight: 256 }],
    mpp: { x: 0.25, y: 0.25 },
    objectivePower: 40,
    properties: {},
    associatedImages: [],
    width: 30000,
    height: 30000,
    readRegion: notUsed,
    readAt: notUsed,
    readTile: notUsed,
    thumbnail: notUsed,
    readAssociatedImage: notUsed,
    close: () => Promise.resolve(),
  };
}

describe('annotations: ASAP XML and GeoJSON', () => {
  const dir = tempDir('annotations');
  afterAll(() => dir.cleanup());

  it('reads CAMELYON groups, vertex order, exponent and decimal-comma numbers', () => {
    const list = parseAsapXml(ASAP, 'tumor_001.xml');
    expect(list.map((a) => [a.name, a.class, a.geometry])).toEqual([
      ['Annotation 0', 'tumour', 'polygon'],
      ['Annotation 1', 'tumour', 'polygon'],
      ['Annotation 2', 'exclusion', 'polygon'],
      ['Tumor', 'tumour', 'polygon'],
      ['marker', 'other', 'point'],
    ]);
    expect(list[0].coords).toEqual([
      [12345, 20000],
      [13000, 20000],
      [13000.75, 21000.25],
      [12345, 21000],
    ]);
    expect(list[1].coords[0]).toEqual([500.5, 600]);
  });

  it('keeps every vertex through ASAP XML → store → GeoJSON → store', () => {
    const store = openStore(path.join(dir.path, 'a.sqlite'));
    upsertSlide(store, fakeSlide('s1'));
    const original = parseAsapXml(ASAP, 'tumor_001.xml');
    expect(saveAnnotations(store, 's1', 'tumor_001.xml', original)).toBe(5);
    const stored = loadAnnotations(store, 's1', { source: 'tumor_001.xml' });
    const geojson = JSON.stringify(toGeoJson(stored));
    const doc = JSON.parse(geojson);
    expect(doc.type).toBe('FeatureCollection');
    expect(doc.features[0].properties.objectType).toBe('annotation');
    expect(doc.features[0].properties.classification.name).toBe('Tumor');
    // GeoJSON rings are closed.
    expect(doc.features[0].geometry.coordinates[0].at(-1)).toEqual(
      doc.features[0].geometry.coordinates[0][0],
    );
    saveAnnotations(store, 's1', 'tumor_001.geojson', parseGeoJson(geojson, 'tumor_001.geojson'));
    const back = loadAnnotations(store, 's1', { source: 'tumor_001.geojson' });
    expect(
      back.map(({ name, group, class: c, geometry, coords }) => ({ name, group, c, geometry, coords })),
    ).toEqual(
      original.map(({ name, group, class: c, geometry, coords }) => ({ name, group, c, geometry, coords })),
    );
    // And back to ASAP XML once more.
    expect(parseAsapXml(toAsapXml(back)).map((a) => a.coords)).toEqual(original.map((a) => a.coords));
    // Re-importing a file replaces its rows instead of adding to them.
    saveAnnotations(store, 's1', 'tumor_001.xml', original.slice(0, 2));
    expect(loadAnnotations(store, 's1', { source: 'tumor_001.xml' })).toHaveLength(2);
    expect(loadAnnotations(store, 's1', { class: 'exclusion' }).map((a) => a.source)).toEqual([
      'tumor_001.geojson',
    ]);
    expect(
      loadAnnotations(store, 's1', {
        source: 'tumor_001.geojson',
        within: { minX: 0, minY: 0, maxX: 520, maxY: 1000 },
      }).map((a) => a.name),
    ).toEqual(['Annotation 1', 'Tumor', 'marker']);
    store.close();
  });

  it('reads QuPath exports: MultiPolygon parts, holes as exclusion, classification names', () => {
    const qupath = {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: {
            type: 'MultiPolygon',
            coordinates: [
              [
                [
                  [0, 0],
                  [100, 0],
                  [100, 100],
                  [0, 100],
                  [0, 0],
                ],
                [
                  [40, 40],
                  [60, 40],
                  [60, 60],
                  [40, 60],
                  [40, 40],
                ],
              ],
              [
                [
                  [200, 200],
                  [300, 200],
                  [250, 300],
                  [200, 200],
                ],
              ],
            ],
          },
          properties: {
            objectType: 'annotation',
            name: 'lesion',
            classification: { name: 'Tumor', color: [200, 0, 0] },
          },
        },
        {
          type: 'Feature',
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [5, 5],
                [6, 5],
                [6, 6],
                [5, 5],
              ],
            ],
          },
          properties: { objectType: 'annotation', classification: { name: 'Stroma', color: [0, 200, 0] } },
        },
      ],
    };
    const list = parseGeoJson(JSON.stringify(qupath));
    expect(list.map((a) => [a.name, a.class, a.coords.length])).toEqual([
      ['lesion part 1', 'tumour', 4],
      ['lesion part 1 hole 1', 'exclusion', 4],
      ['lesion part 2', 'tumour', 3],
      ['Annotation 1', 'other', 3],
    ]);
    expect(list[3].group).toBe('Stroma');
    expect(toGeoJson(list).features[3].properties.classification.name).toBe('Stroma');
  });

  it('names the problem in bad files', () => {
    expect(() => parseAsapXml('<a><b></a>', 'x.xml')).toThrow(/x\.xml: not valid XML/);
    expect(() => parseAsapXml('<Other/>', 'x.xml')).toThrow(/not an ASAP file/);
    expect(() =>
      parseAsapXml(
        '<ASAP_Annotations><Annotations><Annotation Name="a"><Coordinates><Coordinate Order="0" X="abc" Y="1"/></Coordinates></Annotation></Annotations></ASAP_Annotations>',
      ),
    ).toThrow(/annotation 'a' has a non-numeric coordinate/);
    expect(() =>
      parseAsapXml(
        '<ASAP_Annotations><Annotations><Annotation Name="a" Type="Polygon"><Coordinates><Coordinate Order="0" X="1" Y="1"/><Coordinate Order="1" X="2" Y="1"/></Coordinates></Annotation></Annotations></ASAP_Annotations>',
      ),
    ).toThrow(/polygon 'a' has 2 vertices/);
    expect(() => parseGeoJson('{', 'y.geojson')).toThrow(/y\.geojson: not valid JSON/);
    expect(() => parseGeoJson('{"type":"Point"}', 'y.geojson')).toThrow(ConfigError);
    expect(() =>
      parseGeoJson({ type: 'Feature', geometry: { type: 'LineString', coordinates: [] }, properties: {} }),
    ).toThrow(/unsupported geometry type LineString/);
    expect(() =>
      parseGeoJson({
        type: 'Feature',
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              ['a', 1],
              [2, 2],
            ],
          ],
        },
      }),
    ).toThrow(/position 1 is not \[x, y\]/);
  });
});

describe('polygon rasterisation', () => {
  const triangle: Ring = [
    [3.2, 1.5],
    [40.7, 10.1],
    [12.3, 37.9],
  ];
  const withHole: Ring[] = [
    [
      [0, 0],
      [64, 0],
      [64, 64],
      [0, 64],
    ],
    [
      [16, 16],
      [48, 16],
      [48, 48],
      [16, 48],
    ],
  ];

  it('fills exactly the pixels whose centres are inside, at any downsample and origin', () => {
    for (const [rings, ds, ox, oy] of [
      [[triangle], 1, 0, 0],
      [[triangle], 2.5, 0, 0],
      [[triangle], 1, 5, 3],
      [withHole, 4, 0, 0],
      [withHole, 3, -7, 2],
    ] as Array<[Ring[], number, number, number]>) {
      const width = 30;
      const height = 30;
      const r = rasterizeRings(rings, { x: ox, y: oy, width, height, downsample: ds });
      let mismatches = 0;
      let filled = 0;
      for (let j = 0; j < height; j++)
        for (let i = 0; i < width; i++) {
          const inside = pointInRings(ox + (i + 0.5) * ds, oy + (j + 0.5) * ds, rings);
          if (inside !== (r[j * width + i] === 1)) mismatches++;
          filled += r[j * width + i];
        }
      expect(mismatches).toBe(0);
      expect(filled).toBeGreaterThan(0);
    }
  });

  it('fills the area of a polygon within a pixel per edge', () => {
    const r = rasterizeRings(withHole, { width: 64, height: 64, downsample: 1 });
    expect(r.reduce((a, b) => a + b, 0)).toBe(64 * 64 - 32 * 32);
  });
});
