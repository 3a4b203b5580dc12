"""Validates every geometry of GeoJSON files with shapely: prints one JSON line per file with the number of
features, how many are invalid (with shapely's reason) and the total area."""
import json
import sys

from shapely.geometry import shape
from shapely.validation import explain_validity

for path in sys.argv[1:]:
    with open(path) as f:
        doc = json.load(f)
    invalid = []
    area = 0.0
    holes = 0
    for i, feat in enumerate(doc["features"]):
        g = shape(feat["geometry"])
        if not g.is_valid:
            invalid.append({"feature": i, "reason": explain_validity(g)})
        area += g.area
        if g.geom_type == "Polygon":
            holes += len(g.interiors)
    print(json.dumps({"file": path, "features": len(doc["features"]), "invalid": invalid, "area": area, "holes": holes}))
