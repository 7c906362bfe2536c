INSERT INTO notes (id, body) VALUES (1, 'first; with a semicolon'), (2, 'it''s quoted');
INSERT INTO applied_log (version) VALUES (2);
-- down
DELETE FROM notes WHERE id IN (1, 2);
DELETE FROM applied_log WHERE version = 2;
