"""Reference decoding: pydicom's pixel_array of every frame of a DICOM file, as raw RGB on stdout.

usage: pydicom_frames.py FILE [--jfif-is-ycbcr]   (prints frames in order, each Rows x Columns x 3 bytes)
pydicom decodes JPEG Baseline through Pillow (Debian python3-pil) and converts YBR to RGB itself.
"""
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import convert_color_space


def has_jfif_frames(ds) -> bool:
    from pydicom.encaps import generate_pixel_data_frame

    first = next(generate_pixel_data_frame(ds.PixelData, int(ds.get("NumberOfFrames", 1))))
    return first[2:4] == b"\xff\xe0" and first[6:10] == b"JFIF"


def main() -> None:
    warnings.simplefilter("ignore")
    ds = pydicom.dcmread(sys.argv[1])
    arr = ds.pixel_array
    if arr.ndim == 3:
        arr = arr[np.newaxis]
    pi = str(ds.PhotometricInterpretation)
    if pi == "RGB" and "--jfif-is-ycbcr" in sys.argv and has_jfif_frames(ds):
        # pydicom trusts the header's RGB and keeps the samples as stored; a JFIF codestream says they
        # are YCbCr (as libjpeg, OpenSlide and browsers read it): convert as the codestream says.
        pi = "YBR_FULL"
    # pydicom leaves YBR samples (native, or JPEG decoded by Pillow in YCbCr draft mode) to the caller.
    # JPEG 2000 frames come out of OpenJPEG as RGB already (its inverse MCT).
    jpeg_or_native = ds.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    if jpeg_or_native and pi in ("YBR_FULL", "YBR_FULL_422"):
        arr = convert_color_space(arr, pi, "RGB")
    sys.stdout.buffer.write(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


if __name__ == "__main__":
    main()
