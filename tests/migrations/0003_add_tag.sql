ALTER TABLE notes ADD COLUMN tag TEXT;
INSERT INTO applied_log (version) VALUES (3);
-- down
ALTER TABLE notes DROP COLUMN tag;
DELETE FROM applied_log WHERE version = 3;
