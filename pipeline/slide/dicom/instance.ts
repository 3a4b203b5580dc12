/**
 * What one DICOM instance is, as plain data read from its dataset (from a file or DICOMweb JSON):
 * its series, role (VOLUME / LABEL / OVERVIEW / THUMBNAIL), pixel geometry, encoding, concatenation,
 * tile positions and optical paths. Pure: no I/O.
 */
import { DicomNotSlideError, SlideFormatError } from '../../errors.ts';
import { checkBlockSize, checkImageSize } from '../limits.ts';
import {
  type Dataset,
  getItem,
  getNumber,
  getNumbers,
  getSequence,
  getString,
  getStrings,
} from './dataset.ts';
import { T, WSI_SOP_CLASS } from './tags.ts';
import { type PixelEncoding, pixelEncoding } from './transfer-syntax.ts';

export type ImageFlavor = 'VOLUME' | 'LABEL' | 'OVERVIEW' | 'THUMBNAIL';
export type Photometric =
  | 'RGB'
  | 'YBR_FULL'
  | 'YBR_FULL_422'
  | 'YBR_ICT'
  | 'YBR_RCT'
  | 'MONOCHROME1'
  | 'MONOCHROME2';
const PHOTOMETRICS = new Set<string>([
  'RGB',
  'YBR_FULL',
  'YBR_FULL_422',
  'YBR_ICT',
  'YBR_RCT',
  'MONOCHROME1',
  'MONOCHROME2',
]);

export interface FramePositions {
  /** 0-based level pixel of each frame's top-left corner. */
  x: Int32Array;
  y: Int32Array;
  /** Z offset in the slide (µm), NaN when absent. */
  z: Float64Array;
  /** Optical path identifier per frame ('' when the instance has one shared path). */
  opticalPath: string[];
}

export interface WsiInstance {
  /** File path or URL, for messages. */
  where: string;
  sopInstanceUid: string;
  seriesUid: string;
  studyUid: string;
  instanceNumber: number;
  transferSyntax: string;
  encoding: PixelEncoding;
  flavor: ImageFlavor;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  frames: number;
  samplesPerPixel: number;
  photometric: Photometric;
  planar: number;
  organization: 'TILED_FULL' | 'TILED_SPARSE';
  concatenationUid: string | undefined;
  /** 0-based index of this instance's first frame in its concatenation. */
  frameOffset: number;
  /** Per-frame positions (TILED_SPARSE), undefined for TILED_FULL. */
  positions: FramePositions | undefined;
  /** Optical path identifiers in the instance's Optical Path Sequence order. */
  opticalPaths: string[];
  /** The path shared by all frames (Shared Functional Groups), or the first listed. */
  sharedOpticalPath: string;
  focalPlanes: number;
  /** From Shared Functional Groups › Pixel Measures, in mm: [row spacing (y), column spacing (x)]. */
  pixelSpacingMm: [number, number] | undefined;
  objectivePower: number | undefined;
  dataset: Dataset;
}

const SOP_CLASS_NAMES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.2': 'CT Image',
  '1.2.840.10008.5.1.4.1.1.4': 'MR Image',
  '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture Image',
  '1.2.840.10008.5.1.4.1.1.1': 'Computed Radiography Image',
  '1.2.840.10008.5.1.4.1.1.1.1': 'Digital X-Ray Image',
  '1.2.840.10008.5.1.4.1.1.6.1': 'Ultrasound Image',
  '1.2.840.10008.5.1.4.1.1.77.1.2': 'VL Microscopic Image',
  '1.2.840.10008.5.1.4.1.1.77.1.3': 'VL Slide-Coordinates Microscopic Image',
  '1.2.840.10008.5.1.4.1.1.88.11': 'Basic Text SR',
  '1.2.840.10008.5.1.4.1.1.66.4': 'Segmentation',
  '1.2.840.10008.5.1.4.1.1.91.1': 'Microscopy Bulk Simple Annotations',
};

/** Throws DicomNotSlideError unless the SOP class is VL Whole Slide Microscopy Image. */
export function checkWsiSopClass(sopClass: string | undefined, where: string): void {
  if (sopClass === WSI_SOP_CLASS) return;
  const name = sopClass ? SOP_CLASS_NAMES[sopClass] : undefined;
  throw new DicomNotSlideError(
    `${where}: a DICOM ${name ?? 'object'} (SOP class ${sopClass ?? 'missing'}), not a whole-slide image (VL Whole Slide Microscopy Image)`,
  );
}

function required(ds: Dataset, t: number, name: string, where: string): number {
  const v = getNumber(ds, t);
  if (v === undefined) throw new SlideFormatError(`${where}: DICOM ${name} is missing`);
  return v;
}

function flavorOf(ds: Dataset): ImageFlavor {
  const types = getStrings(ds, T.ImageType).map((s) => s.toUpperCase());
  const third = types[2];
  if (third === 'LABEL' || third === 'OVERVIEW' || third === 'THUMBNAIL') return third;
  return 'VOLUME';
}

function opticalPathOf(ds: Dataset | undefined): string | undefined {
  return getString(getItem(ds, T.OpticalPathIdentificationSequence), T.OpticalPathIdentifier);
}

function readPositions(
  perFrame: Dataset[],
  frames: number,
  shared: Dataset | undefined,
  where: string,
): FramePositions | undefined {
  if (perFrame.length === 0 || !getItem(perFrame[0], T.PlanePositionSlideSequence)) return undefined;
  if (perFrame.length < frames) {
    throw new SlideFormatError(
      `${where}: ${perFrame.length} per-frame functional groups for ${frames} frames`,
    );
  }
  const x = new Int32Array(frames);
  const y = new Int32Array(frames);
  const z = new Float64Array(frames);
  const opticalPath: string[] = new Array(frames);
  const sharedPath = opticalPathOf(shared) ?? '';
  for (let i = 0; i < frames; i++) {
    const pos = getItem(perFrame[i], T.PlanePositionSlideSequence);
    const col = getNumber(pos, T.ColumnPositionInTotalImagePixelMatrix);
    const row = getNumber(pos, T.RowPositionInTotalImagePixelMatrix);
    if (col === undefined || row === undefined) {
      throw new SlideFormatError(`${where}: frame ${i + 1} has no position in the total pixel matrix`);
    }
    x[i] = col - 1;
    y[i] = row - 1;
    z[i] = getNumber(pos, T.ZOffsetInSlide) ?? Number.NaN;
    opticalPath[i] = opticalPathOf(perFrame[i]) ?? sharedPath;
  }
  return { x, y, z, opticalPath };
}

/** The instance as plain data; throws DicomNotSlideError / UnsupportedTransferSyntaxError / SlideFormatError. */
export function describeInstance(ds: Dataset, transferSyntax: string, where: string): WsiInstance {
  checkWsiSopClass(getString(ds, T.SOPClassUID), where);
  const encoding = pixelEncoding(transferSyntax);
  const tileWidth = required(ds, T.Columns, 'Columns', where);
  const tileHeight = required(ds, T.Rows, 'Rows', where);
  checkBlockSize(where, tileWidth, tileHeight);
  const width = getNumber(ds, T.TotalPixelMatrixColumns) ?? tileWidth;
  const height = getNumber(ds, T.TotalPixelMatrixRows) ?? tileHeight;
  checkImageSize(where, width, height);
  const frames = getNumber(ds, T.NumberOfFrames) ?? 1;
  if (!Number.isInteger(frames) || frames < 1)
    throw new SlideFormatError(`${where}: invalid Number of Frames ${frames}`);
  const bits = getNumber(ds, T.BitsAllocated) ?? 8;
  if (bits !== 8) throw new SlideFormatError(`${where}: ${bits}-bit samples are not supported (8-bit only)`);
  const samplesPerPixel = getNumber(ds, T.SamplesPerPixel) ?? 3;
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new SlideFormatError(`${where}: ${samplesPerPixel} samples per pixel are not supported`);
  }
  const photometric = (
    getString(ds, T.PhotometricInterpretation) ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')
  ).toUpperCase();
  if (!PHOTOMETRICS.has(photometric)) {
    throw new SlideFormatError(`${where}: photometric interpretation ${photometric} is not supported`);
  }
  const shared = getItem(ds, T.SharedFunctionalGroupsSequence);
  const perFrame = getSequence(ds, T.PerFrameFunctionalGroupsSequence);
  const positions = readPositions(perFrame, frames, shared, where);
  const declared = getString(ds, T.DimensionOrganizationType)?.toUpperCase();
  const organization = declared === 'TILED_FULL' || !positions ? 'TILED_FULL' : 'TILED_SPARSE';
  const spacing = getNumbers(getItem(shared, T.PixelMeasuresSequence), T.PixelSpacing);
  const opticalPathItems = getSequence(ds, T.OpticalPathSequence);
  const opticalPaths = opticalPathItems.map((p, i) => getString(p, T.OpticalPathIdentifier) ?? String(i + 1));
  const power = opticalPathItems
    .map((p) => getNumber(p, T.ObjectiveLensPower))
    .find((v) => v !== undefined && v > 0);
  return {
    where,
    sopInstanceUid: getString(ds, T.SOPInstanceUID) ?? where,
    seriesUid: getString(ds, T.SeriesInstanceUID) ?? '',
    studyUid: getString(ds, T.StudyInstanceUID) ?? '',
    instanceNumber: getNumber(ds, T.InstanceNumber) ?? 0,
    transferSyntax,
    encoding,
    flavor: flavorOf(ds),
    width,
    height,
    tileWidth,
    tileHeight,
    frames,
    samplesPerPixel,
    photometric: photometric as Photometric,
    planar: getNumber(ds, T.PlanarConfiguration) ?? 0,
    organization: organization === 'TILED_FULL' ? 'TILED_FULL' : 'TILED_SPARSE',
    concatenationUid: getString(ds, T.ConcatenationUID),
    frameOffset: getNumber(ds, T.ConcatenationFrameOffsetNumber) ?? 0,
    positions: organization === 'TILED_SPARSE' ? positions : undefined,
    opticalPaths,
    sharedOpticalPath: opticalPathOf(shared) ?? opticalPaths[0] ?? '',
    focalPlanes: getNumber(ds, T.TotalPixelMatrixFocalPlanes) ?? 1,
    pixelSpacingMm:
      spacing.length >= 2 && spacing[0] > 0 && spacing[1] > 0 ? [spacing[0], spacing[1]] : undefined,
    objectivePower: power,
    dataset: ds,
  };
}
