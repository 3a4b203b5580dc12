"""Pixel oracle: read regions with OpenSlide and write them to stdout as raw RGB (transparent -> white).

usage: openslide_regions.py SLIDE < regions.json   (a JSON list of [level, x, y, width, height])
"""
import json
import sys

import openslide


def main() -> None:
    slide = openslide.OpenSlide(sys.argv[1])
    out = sys.stdout.buffer
    for level, x, y, w, h in json.load(sys.stdin):
        rgba = slide.read_region((x, y), level, (w, h))
        white = openslide_white(rgba.size)
        white.paste(rgba, mask=rgba.split()[3])
        out.write(white.tobytes())
    out.flush()


def openslide_white(size):
    from PIL import Image

    return Image.new("RGB", size, (255, 255, 255))


if __name__ == "__main__":
    main()
