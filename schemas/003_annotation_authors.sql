-- Annotations drawn in the viewer: who drew them and when (NULL for annotations imported from files).
ALTER TABLE annotations ADD COLUMN author TEXT;
ALTER TABLE annotations ADD COLUMN created_at TEXT;
ALTER TABLE annotations ADD COLUMN updated_at TEXT;
