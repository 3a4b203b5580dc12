-- Out-of-distribution verdicts (issue 16): one per slide scored in a run, against the statistics saved
-- with the run's model at training time (stain vectors, concentration range, nucleus size).
CREATE TABLE slide_ood (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  slide_id TEXT NOT NULL REFERENCES slides(id),
  out_of_distribution INTEGER NOT NULL CHECK (out_of_distribution IN (0, 1)),
  reason TEXT NOT NULL,
  stats_json TEXT NOT NULL,
  PRIMARY KEY (run_id, slide_id)
) WITHOUT ROWID;
