/** The DICOM Part 10 signature: a 128-byte preamble, then "DICM". Its own module so sniffing a file loads no parser. */
export function hasPreamble(head: Uint8Array): boolean {
  return (
    head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d
  );
}
