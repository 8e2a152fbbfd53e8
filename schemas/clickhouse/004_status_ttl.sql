-- 004_status_ttl: status rows do not stay forever.
--
-- Every version row of a pair (message_endpoint_status) and of a message
-- (message_status) is deleted 90 days after its updated_at, the default
-- payload retention: by then the message's payload is gone too, so the pair
-- can no longer be resent or recovered, and its attempts (ids, timings) stay
-- in `attempts` for history. A row TTL on all versions, not only on final
-- statuses: the newest version of a pair has the latest updated_at, so older
-- versions always expire first and a reader never sees an older version
-- resurface; a pair is final long before (the longest retry schedule is under
-- two days, and a dropped retry makes it final too). Rows expire as parts
-- merge (no rewrite now: materialize_ttl_after_modify = 0).
ALTER TABLE message_endpoint_status MODIFY TTL toDateTime(updated_at) + INTERVAL 90 DAY
SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE message_status MODIFY TTL toDateTime(updated_at) + INTERVAL 90 DAY
SETTINGS materialize_ttl_after_modify = 0;
