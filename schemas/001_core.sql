-- Core tables of the wsi-pipeline store. Coordinates are level-0 pixels. Times are ISO-8601 UTC text.
-- Every key is chosen so that re-running a stage after a crash inserts nothing twice (INSERT ... ON CONFLICT).

CREATE TABLE slides (
  id              TEXT PRIMARY KEY,          -- content hash from the reader (Slide.id): survives moves
  path            TEXT NOT NULL,             -- last known location (file path or URL)
  name            TEXT NOT NULL,             -- file name, e.g. CMU-1-Small-Region.svs
  format          TEXT NOT NULL,
  vendor          TEXT,
  width           INTEGER NOT NULL,
  height          INTEGER NOT NULL,
  mpp_x           REAL,                      -- NULL when the file does not say
  mpp_y           REAL,
  objective_power REAL,
  levels_json     TEXT NOT NULL,             -- JSON array of LevelInfo
  added_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX slides_name ON slides(name);

CREATE TABLE models (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  kind         TEXT NOT NULL,                -- 'patch-classifier' | 'mil' | 'density' | ...
  path         TEXT NOT NULL UNIQUE,         -- model directory (model.json + weights + sidecar)
  config_json  TEXT NOT NULL DEFAULT '{}',
  metrics_json TEXT NOT NULL DEFAULT '{}',
  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE runs (
  id           INTEGER PRIMARY KEY,
  kind         TEXT NOT NULL,                -- 'patches' | 'infer' | 'embed' | 'mil' | 'count' | 'train' | ...
  name         TEXT,
  config_json  TEXT NOT NULL,
  config_hash  TEXT NOT NULL,                -- sha256 of canonical config JSON: same command → same run (resume)
  status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  model_id     INTEGER REFERENCES models(id),
  parent_run_id INTEGER REFERENCES runs(id), -- e.g. the patches run an inference run scored
  started_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  finished_at  TEXT,
  attempt_started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  elapsed_s    REAL NOT NULL DEFAULT 0,      -- summed over finished attempts
  attempts     INTEGER NOT NULL DEFAULT 1,
  counts_json  TEXT NOT NULL DEFAULT '{}',
  error        TEXT,
  UNIQUE (kind, config_hash)
);

-- Per-slide progress of a run: a slide marked done is skipped on resume; its rows were written
-- in the same transaction that marked it done.
CREATE TABLE run_slides (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id    TEXT NOT NULL REFERENCES slides(id),
  status      TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
  items       INTEGER NOT NULL DEFAULT 0,
  error       TEXT,
  finished_at TEXT,
  PRIMARY KEY (run_id, slide_id)
) WITHOUT ROWID;

-- One row per patch (or per output-grid point of an FCN score map) of a run.
CREATE TABLE patches (
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id       TEXT NOT NULL REFERENCES slides(id),
  x              INTEGER NOT NULL,           -- level-0 top-left
  y              INTEGER NOT NULL,
  width          INTEGER NOT NULL,           -- level-0 extent
  height         INTEGER NOT NULL,
  level          INTEGER,                    -- level read from
  mpp            REAL,                       -- µm/px of the patch pixels (NULL when read by level on a slide without MPP)
  tissue         REAL,                       -- tissue fraction 0..1
  label          INTEGER,                    -- 1 tumour, 0 normal, NULL unknown / excluded
  score          REAL,                       -- model probability
  attention      REAL,                       -- raw attention weight (sums to 1 over a slide)
  attention_norm REAL,                       -- attention scaled to [0,1] per slide, for display
  embedding      BLOB,                       -- float32 (or float16) little-endian vector
  PRIMARY KEY (run_id, slide_id, x, y)
) WITHOUT ROWID;

-- Slide-level results of a run (MIL probability, FCN max score, ...).
CREATE TABLE slide_results (
  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id     TEXT NOT NULL REFERENCES slides(id),
  score        REAL,
  label        INTEGER,                      -- predicted or reference label where known
  details_json TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, slide_id)
) WITHOUT ROWID;

-- Ground-truth and user annotations (polygons in level-0 pixels).
CREATE TABLE annotations (
  id          INTEGER PRIMARY KEY,
  slide_id    TEXT NOT NULL REFERENCES slides(id),
  source      TEXT NOT NULL,                 -- file it came from, e.g. tumor_001.xml
  name        TEXT NOT NULL,                 -- annotation name within the source
  group_name  TEXT,                          -- ASAP PartOfGroup: _0, _1, _2, Tumor, ...
  class       TEXT NOT NULL,                 -- 'tumour' | 'exclusion' | 'other'
  geometry    TEXT NOT NULL,                 -- 'polygon' | 'point' | 'rectangle'
  coords_json TEXT NOT NULL,                 -- [[x,y],...] level-0 pixels, exactly as imported
  min_x REAL NOT NULL, min_y REAL NOT NULL, max_x REAL NOT NULL, max_y REAL NOT NULL,
  UNIQUE (slide_id, source, name)
);

-- Cells found by counting runs; (x, y) are level-0 pixels of the slide or image.
CREATE TABLE cells (
  id       INTEGER PRIMARY KEY,
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id TEXT NOT NULL REFERENCES slides(id),
  x        REAL NOT NULL,
  y        REAL NOT NULL,
  area     REAL,                             -- pixels; NULL for density peaks
  score    REAL,
  UNIQUE (run_id, slide_id, x, y)
);
CREATE VIRTUAL TABLE cells_rtree USING rtree(id, min_x, max_x, min_y, max_y);
CREATE TRIGGER cells_rtree_insert AFTER INSERT ON cells BEGIN
  INSERT INTO cells_rtree (id, min_x, max_x, min_y, max_y) VALUES (new.id, new.x, new.x, new.y, new.y);
END;
CREATE TRIGGER cells_rtree_delete AFTER DELETE ON cells BEGIN
  DELETE FROM cells_rtree WHERE id = old.id;
END;

-- Per-image counts of a counting run (an image is registered as a single-level slide).
CREATE TABLE counts (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id  TEXT NOT NULL REFERENCES slides(id),
  image     TEXT NOT NULL,                   -- file name as given
  plate     TEXT,
  well      TEXT,                            -- e.g. B07
  row       INTEGER,                         -- 0-based
  col       INTEGER,                         -- 0-based
  field     INTEGER,
  count     REAL NOT NULL,
  mean_area REAL,
  PRIMARY KEY (run_id, slide_id)
) WITHOUT ROWID;

-- Per-well aggregates of a counting run (sum over fields), for the plate view.
CREATE TABLE wells (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  plate    TEXT NOT NULL,
  well     TEXT NOT NULL,
  row      INTEGER NOT NULL,
  col      INTEGER NOT NULL,
  fields   INTEGER NOT NULL,
  count    REAL NOT NULL,
  mean_area REAL,
  PRIMARY KEY (run_id, plate, well)
) WITHOUT ROWID;

-- Training curves (loss, validation AUC/MAE) per step.
CREATE TABLE training_log (
  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step         INTEGER NOT NULL,
  loss         REAL,
  metrics_json TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
