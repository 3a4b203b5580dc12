-- Issue 17: what counted each field (method, model id, channel), its QC measures and flags; per-well
-- statistics over the fields that passed QC, with the plate map; Z′-factor per plate.

CREATE TABLE field_qc (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id   TEXT NOT NULL REFERENCES slides(id),
  method     TEXT NOT NULL,                  -- he-watershed | density | watershed
  model_id   TEXT NOT NULL,                  -- e.g. he-watershed@e55beca6, density-vgg@…, watershed:fluorescence
  channel    TEXT,                           -- e.g. '1 (DAPI)'; NULL when the image was counted whole
  focus      REAL,                           -- var(Laplacian) / var(image)
  saturated  REAL,                           -- fraction of pixels at full scale (NULL: brightfield)
  mean       REAL,                           -- mean intensity, 0..1
  flags      TEXT NOT NULL DEFAULT '',       -- '+'-joined: out_of_focus, empty, saturated, outlier
  PRIMARY KEY (run_id, slide_id)
) WITHOUT ROWID;

CREATE TABLE well_stats (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  plate         TEXT NOT NULL,
  well          TEXT NOT NULL,
  row           INTEGER NOT NULL,            -- 0-based
  col           INTEGER NOT NULL,            -- 0-based
  condition     TEXT,
  concentration REAL,
  role          TEXT,
  fields        INTEGER NOT NULL,
  fields_used   INTEGER NOT NULL,            -- fields in the mean (flagged ones left out unless --keep-flagged)
  counts_json   TEXT NOT NULL,               -- [{field, count, flags}]
  mean          REAL,
  sd            REAL,
  cv            REAL,
  PRIMARY KEY (run_id, plate, well)
) WITHOUT ROWID;

CREATE TABLE plate_stats (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  plate         TEXT NOT NULL,
  z_prime       REAL,
  positive_mean REAL,
  positive_sd   REAL,
  negative_mean REAL,
  negative_sd   REAL,
  PRIMARY KEY (run_id, plate)
) WITHOUT ROWID;
