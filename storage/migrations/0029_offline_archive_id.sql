-- The id the recipient's archive gave an offline message (XEP-0359: the
-- <stanza-id/> by the account that the archive put on it), committed in
-- the archive before the message was stored here; NULL when the archive
-- did not keep it. A Bind 2 bind (XEP-0386 §2.2) removes, without
-- sending them, the messages whose row is still in the archive: the
-- client gets them with MAM. The archive row is looked up by this id,
-- with the owner, through the archive's primary key.
ALTER TABLE offline_messages ADD COLUMN archive_id bigint;
