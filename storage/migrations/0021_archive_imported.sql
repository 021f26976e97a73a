-- Imported history waits for its place with provisional ids below
-- -2^62 (storage/postgres/archive_import.go). This index holds only those
-- rows, normally none: an import finds them without reading the archive.
CREATE INDEX archive_messages_imported ON archive_messages (id) WHERE id < -4611686018427387904;
