/** Decoder parameters read once from an IFD, as plain data (they can be posted to a worker). */
export interface CodecParams {
  /** Block (tile or strip) size in pixels. */
  width: number;
  height: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  /** TIFF Predictor: 1 none, 2 horizontal differencing. */
  predictor: number;
  /** TIFF PhotometricInterpretation: 1 min-is-black, 2 RGB, 6 YCbCr. */
  photometric: number;
  /** JPEGTables tag contents (abbreviated JPEG streams), if any. */
  jpegTables?: Uint8Array;
}

/** Interleaved 8-bit samples of one block. */
export interface DecodedBlock {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface Codec {
  readonly name: string;
  decode(bytes: Uint8Array, params: CodecParams): Promise<DecodedBlock>;
}
