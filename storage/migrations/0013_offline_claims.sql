-- Offline messages stay stored until the client that got them has
-- acknowledged them (XEP-0198) or they have been routed again, so that a
-- crash of the server between the hand-over and the acknowledgement loses
-- nothing. While a message is on its way it is claimed by the server
-- process that delivers it (offline.Handler), so that another resource
-- coming online meanwhile does not get it too. A claim by another process
-- is one that ended before the message was safe: it no longer holds.
ALTER TABLE offline_messages ADD COLUMN claimer uuid;
