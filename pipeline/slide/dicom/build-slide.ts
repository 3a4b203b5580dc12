/**
 * A laid-out series plus its image data (files or DICOMweb) → the one tiled Slide: levels, tile maps,
 * resolution, vendor fields, associated images, content id.
 */
import { readWindow } from '../assemble.ts';
import { createDefaultCodecs } from '../codec/registry.ts';
import type { LevelSource } from '../level.ts';
import { createTiledSlide } from '../tiled-slide.ts';
import type { Mpp, OpenOptions, RGBImage, Slide } from '../types.ts';
import { dicomContentId } from './content-id.ts';
import { getNumber, getString } from './dataset.ts';
import { createDicomLevel } from './dicom-level.ts';
import type { ImageData } from './image-data.ts';
import type { WsiInstance } from './instance.ts';
import type { SeriesLayout } from './series.ts';
import { T } from './tags.ts';
import { buildTileMap, levelPlanes } from './tiling/index.ts';
import { transferSyntaxName } from './transfer-syntax.ts';

function normaliseMpp(m: OpenOptions['mpp'] | number | undefined): Mpp | undefined {
  if (m === undefined) return undefined;
  return typeof m === 'number' ? { x: m, y: m } : m;
}

/** µm/px from level 0's Pixel Spacing (mm, [row spacing = y, column spacing = x]); undefined without it. */
export function mppFromSpacing(inst: WsiInstance): Mpp | undefined {
  const s = inst.pixelSpacingMm;
  return s ? { x: s[1] * 1000, y: s[0] * 1000 } : undefined;
}

function vendorProperties(
  layout: SeriesLayout,
  l0: WsiInstance,
  paths: string[],
  focalPlanes: number,
): Record<string, string> {
  const ds = l0.dataset;
  const p: Record<string, string> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') p[`dicom.${k}`] = String(v);
  };
  put('Manufacturer', getString(ds, T.Manufacturer));
  put('ManufacturerModelName', getString(ds, T.ManufacturerModelName));
  put('SoftwareVersions', getString(ds, T.SoftwareVersions));
  put('DeviceSerialNumber', getString(ds, T.DeviceSerialNumber));
  put('ContainerIdentifier', getString(ds, T.ContainerIdentifier));
  put('SeriesDescription', getString(ds, T.SeriesDescription));
  put('StudyInstanceUID', layout.studyUid);
  put('SeriesInstanceUID', layout.seriesUid);
  put(
    'TransferSyntaxUID',
    `${l0.transferSyntax}${transferSyntaxName(l0.transferSyntax) ? ` (${transferSyntaxName(l0.transferSyntax)})` : ''}`,
  );
  put('PhotometricInterpretation', l0.photometric);
  put('DimensionOrganizationType', l0.organization);
  put('ImagedVolumeWidth', getNumber(ds, T.ImagedVolumeWidth));
  put('ImagedVolumeHeight', getNumber(ds, T.ImagedVolumeHeight));
  if (l0.pixelSpacingMm) put('PixelSpacing', l0.pixelSpacingMm.join('\\'));
  else p['dicom.resolution'] = 'no Pixel Spacing: µm/px unknown (not derived from the imaged volume size)';
  put('OpticalPaths', paths.length > 1 ? `${paths.join(', ')} (reading ${paths[0]})` : paths[0]);
  put('FocalPlanes', focalPlanes > 1 ? `${focalPlanes} (reading the first)` : undefined);
  return p;
}

export async function buildDicomSlide(
  layout: SeriesLayout,
  data: ImageData,
  source: string,
  options: OpenOptions,
): Promise<Slide> {
  const codecs = createDefaultCodecs();
  const planes = layout.levels.map((l) => levelPlanes(l));
  const levels: LevelSource[] = layout.levels.map((instances, i) => {
    const map = buildTileMap(instances, planes[i], `${source} level ${i}`);
    return createDicomLevel(instances, map, data, codecs);
  });
  const l0 = layout.levels[0][0];
  const associated = new Map<string, () => Promise<RGBImage>>();
  for (const [name, instances] of layout.associated) {
    associated.set(name, async () => {
      const inst = instances.slice(0, 1);
      const lvl = createDicomLevel(
        inst,
        buildTileMap(inst, levelPlanes(inst), `${source} ${name}`),
        data,
        codecs,
      );
      const pixels = await readWindow(lvl, 0, 0, lvl.width, lvl.height, (c, r) => lvl.readTile(c, r));
      return { data: pixels, width: lvl.width, height: lvl.height, channels: 3 };
    });
  }
  const id = await dicomContentId(
    layout.studyUid,
    layout.seriesUid,
    layout.levels.map((l) => l.map((i) => i.sopInstanceUid)),
    levels,
  );
  return createTiledSlide({
    id,
    source,
    format: 'dicom',
    vendor: 'dicom',
    levels,
    mpp: normaliseMpp(options.mpp) ?? mppFromSpacing(l0) ?? normaliseMpp(options.fallbackMpp),
    objectivePower: l0.objectivePower,
    properties: vendorProperties(layout, l0, planes[0].opticalPaths, planes[0].focalPlanes),
    associated,
    cacheBytes: options.cacheBytes,
    close: () => data.close(),
  });
}
