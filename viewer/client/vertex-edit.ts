/** Vertex editing of drawn annotations, as plain geometry (no DOM): what a dragged handle does to an outline. */

export type Coords = [number, number][];

/** The outline after vertex `index` of a drawing moved to `p`, and where the moved vertex now is. */
export function moveVertex(geometry: string, coords: Coords, index: number, p: [number, number]) {
  if (geometry === 'point') return { coords: [p] as Coords, index: 0 };
  if (geometry === 'rectangle') {
    // The opposite corner stays; the rectangle is rebuilt (and re-ordered) around it.
    const fixed = coords[(index + 2) % 4];
    const r = axisRectangle(fixed, p);
    const at = r.findIndex(([x, y]) => x === p[0] && y === p[1]);
    return { coords: r, index: at < 0 ? index : at };
  }
  return { coords: coords.map((c, i) => (i === index ? p : c)), index };
}

export function axisRectangle(a: [number, number], b: [number, number]): Coords {
  const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
  const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
  return [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ];
}
