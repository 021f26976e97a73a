-- The text index of personal archives takes new words into its pending
-- list (GIN fastupdate) and merges the list into the index once it holds
-- gin_pending_list_limit: the merge runs inside the INSERT that crossed the
-- limit, and every message archived after it waits for that commit. At
-- the default 4 MB that merge took about 0.6 s of CPU, often enough to set
-- the p99 delivery latency of a busy server; a 256 kB list is merged in
-- about a sixteenth of that, for some 5 % more PostgreSQL CPU per message
-- (docs/performance.md, "Archive write stalls").
ALTER INDEX archive_messages_text SET (gin_pending_list_limit = 256);
