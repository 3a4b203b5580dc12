"""Reads a float heatmap TIFF the way a Python user would: prints one JSON object with the pixels as read by
tifffile and by Pillow (NaN as null), and the placement tags tifffile decodes (GeoTIFF model tags, resolution,
ImageDescription, GDAL_NODATA)."""
import json
import math
import sys

import numpy as np
import tifffile
from PIL import Image

path = sys.argv[1]
with tifffile.TiffFile(path) as tif:
    page = tif.pages[0]
    arr = page.asarray()
    tags = page.tags
    out = {
        "dtype": str(arr.dtype),
        "shape": list(arr.shape),
        "tifffile": [None if math.isnan(v) else float(v) for v in arr.ravel().tolist()],
        "description": page.description,
        "modelPixelScale": list(tags["ModelPixelScaleTag"].value),
        "modelTiepoint": list(tags["ModelTiepointTag"].value),
        "geoKeys": list(tags["GeoKeyDirectoryTag"].value),
        "xResolution": list(tags["XResolution"].value),
        "yResolution": list(tags["YResolution"].value),
        "resolutionUnit": int(tags["ResolutionUnit"].value),
        "nodata": tags["GDAL_NODATA"].value,
    }
with Image.open(path) as im:
    out["pilMode"] = im.mode
    pil = np.asarray(im, dtype=np.float32)
    out["pil"] = [None if math.isnan(v) else float(v) for v in pil.ravel().tolist()]
print(json.dumps(out))
