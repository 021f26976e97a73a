-- The server now merges the personal archive's text index's pending list
-- itself, on a connection of its own, every few thousand rows
-- (storage/postgres/archive_pending.go), so that no INSERT that later
-- messages wait for has to. The limit at which an INSERT still merges
-- is raised to stay above what those rows fill; fewer, bigger merges
-- also cost less per message (docs/performance.md, "The text index's
-- pending list, merged aside").
ALTER INDEX archive_messages_text SET (gin_pending_list_limit = 1024);
