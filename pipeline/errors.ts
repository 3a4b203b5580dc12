/**
 * Named error classes. Every error a user can cause has a class here, a stable `code`
 * and a one-line message; the CLI prints the message and exits non-zero.
 */
export class WsiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The file is not a slide we can read: zero bytes, not a TIFF/PNG/JPEG, truncated, corrupt. */
export class SlideFormatError extends WsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SLIDE_FORMAT', message, options);
  }
}

/** The path or URL does not exist or cannot be opened. */
export class SlideNotFoundError extends WsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SLIDE_NOT_FOUND', message, options);
  }
}

/** A TIFF compression code without a decoder. */
export class UnsupportedCompressionError extends WsiError {
  readonly compression: number;
  constructor(compression: number, name?: string) {
    super(
      'UNSUPPORTED_COMPRESSION',
      `unsupported TIFF compression ${compression}${name ? ` (${name})` : ''}: no decoder for it`,
    );
    this.compression = compression;
  }
}

/** A header that claims dimensions no real slide has; refused before any allocation. */
export class AbsurdDimensionsError extends WsiError {
  constructor(message: string) {
    super('ABSURD_DIMENSIONS', message);
  }
}

/** A physical-resolution request on a slide that does not say its microns per pixel. */
export class MissingResolutionError extends WsiError {
  constructor(message: string) {
    super('MISSING_MPP', message);
  }
}

/** A bad flag, config file or argument combination. */
export class ConfigError extends WsiError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

/** A read outside what a slide offers (bad level, negative size, ...). */
export class ReadRangeError extends WsiError {
  constructor(message: string) {
    super('READ_RANGE', message);
  }
}

/** A model file that is missing, malformed, or lacks the metadata a command needs. */
export class ModelError extends WsiError {
  constructor(message: string) {
    super('MODEL', message);
  }
}

/** A store (SQLite) that is missing, from a newer version, or inconsistent. */
export class StoreError extends WsiError {
  constructor(message: string) {
    super('STORE', message);
  }
}

/** A DICOM file or series that is valid DICOM but not a whole-slide image (a CT, an SR, ...). */
export class DicomNotSlideError extends WsiError {
  constructor(message: string) {
    super('DICOM_NOT_SLIDE', message);
  }
}

/** A DICOM transfer syntax without a decoder here; the message names it. */
export class UnsupportedTransferSyntaxError extends WsiError {
  readonly transferSyntax: string;
  constructor(uid: string, name?: string) {
    super(
      'UNSUPPORTED_TRANSFER_SYNTAX',
      `unsupported DICOM transfer syntax ${uid}${name ? ` (${name})` : ''}: no decoder for it`,
    );
    this.transferSyntax = uid;
  }
}

/** The instances of a DICOM series disagree (sizes, tiles, studies) or a level is incomplete. */
export class DicomSeriesError extends WsiError {
  constructor(message: string) {
    super('DICOM_SERIES', message);
  }
}

/** A frame a DICOM slide needs is not in its file or not on its server. */
export class MissingFrameError extends WsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DICOM_MISSING_FRAME', message, options);
  }
}

/** A file or folder the command cannot read or write: no permission, a full disk, a file where a folder should be. */
export class FileAccessError extends WsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FILE_ACCESS', message, options);
  }
}

const SYSTEM_ERRORS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a file stands where a folder should be',
  EISDIR: 'is a folder, not a file',
  EEXIST: 'already exists (a file where a folder should be?)',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
};

/** Node's file-system errors (ENOENT, EACCES, ENOSPC, ...) as a one-line FileAccessError; others unchanged. */
export function asWsiError(err: unknown): unknown {
  if (err instanceof WsiError || !(err instanceof Error)) return err;
  const { code, path, syscall } = err as NodeJS.ErrnoException;
  const why = code ? SYSTEM_ERRORS[code] : undefined;
  if (!why) return err;
  return new FileAccessError(`${syscall ?? 'access'} ${path ?? ''}: ${why} (${code})`.replace(/ +:/, ':'), {
    cause: err,
  });
}
