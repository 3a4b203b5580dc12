-- The stage runner (pipeline/stage/): inputs that failed in a run, and the run's timings.
-- A failure is keyed by the input as given (path or URL), since a file that cannot be opened has no slide id.
-- Rerunning the same command retries exactly these inputs and the unfinished ones; a success removes the row.
CREATE TABLE run_failures (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  source    TEXT NOT NULL,                   -- path or URL as given
  slide_id  TEXT,                            -- the slide's content id when it could be opened
  step      TEXT NOT NULL,                   -- 'open' | 'plan' | 'task' | 'write'
  error     TEXT NOT NULL,                   -- one line: "ErrorName: message"
  failed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, source)
) WITHOUT ROWID;

-- Wall time, slides/s, units/s and time per step of the last attempt (JSON object).
ALTER TABLE runs ADD COLUMN timings_json TEXT NOT NULL DEFAULT '{}';
