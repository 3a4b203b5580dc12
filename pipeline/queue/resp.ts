/**
 * RESP2, the Redis wire protocol: command encoding and an incremental reply parser. Bulk strings come back
 * as UTF-8 strings, or as Buffers for commands that ask for bytes (model blobs).
 */

export type RespValue = string | number | null | Buffer | RespError | RespValue[];

/** An error reply (`-ERR …`): a value inside EXEC/pipeline results, thrown for a single command. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

export type RespArg = string | number | Buffer;

const CRLF = Buffer.from('\r\n');

/** `*N\r\n$len\r\narg\r\n…` for one command. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

const INCOMPLETE = Symbol('incomplete');

/** Parses replies out of a byte stream; `push` returns every reply completed by the new chunk. */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  /** `binary(i)` says whether the i-th reply from now (0 = next) keeps bulk strings as Buffers. */
  push(chunk: Buffer, binary: (index: number) => boolean): RespValue[] {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
    const out: RespValue[] = [];
    for (;;) {
      const start = this.pos;
      const v = this.parse(binary(out.length));
      if (v === INCOMPLETE) {
        this.pos = start;
        break;
      }
      out.push(v);
      if (this.pos >= this.buf.length) break;
    }
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }

  private line(): string | typeof INCOMPLETE {
    const end = this.buf.indexOf(CRLF, this.pos);
    if (end < 0) return INCOMPLETE;
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 2;
    return s;
  }

  private parse(binary: boolean): RespValue | typeof INCOMPLETE {
    if (this.pos >= this.buf.length) return INCOMPLETE;
    const type = this.buf[this.pos++];
    const head = this.line();
    if (head === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // +
        return head;
      case 0x2d: // -
        return new RespError(head);
      case 0x3a: // :
        return Number(head);
      case 0x24: {
        // $
        const len = Number(head);
        if (len < 0) return null;
        if (this.pos + len + 2 > this.buf.length) return INCOMPLETE;
        const bytes = this.buf.subarray(this.pos, this.pos + len);
        this.pos += len + 2;
        return binary ? Buffer.from(bytes) : bytes.toString('utf8');
      }
      case 0x2a: {
        // *
        const n = Number(head);
        if (n < 0) return null;
        const arr: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const v = this.parse(binary);
          if (v === INCOMPLETE) return INCOMPLETE;
          arr.push(v);
        }
        return arr;
      }
      default:
        throw new RespError(`unexpected RESP type byte 0x${type.toString(16)}`);
    }
  }
}
