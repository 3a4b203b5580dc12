/** Which frame holds each tile of a level: (instance, frame) per tile in row-major order, -1 when none. */
export interface TileMap {
  cols: number;
  rows: number;
  /** Index into the level's instance list, -1 for a tile without a frame (white). */
  instance: Int32Array;
  /** 0-based frame within that instance. */
  frame: Int32Array;
}

export function emptyTileMap(cols: number, rows: number): TileMap {
  return {
    cols,
    rows,
    instance: new Int32Array(cols * rows).fill(-1),
    frame: new Int32Array(cols * rows).fill(-1),
  };
}
