CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE applied_log (version BIGINT NOT NULL);
INSERT INTO applied_log (version) VALUES (1);
-- down
DROP TABLE applied_log;
DROP TABLE notes;
