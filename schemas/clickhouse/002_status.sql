-- 002_status: delivery status, projected from the compacted `status` topic.
--
-- Written by the status processor (MessageEndpointStatus, MessageStatus) and
-- derived only from the attempts topic, so these tables can be emptied and
-- rebuilt by replaying it. Same rules as 001 (tenant first in every sort key,
-- ReplacingMergeTree on the record's own version, no PARTITION BY,
-- index_granularity 1024, idempotent statements).
--
-- `version` is the number of distinct attempts folded into the row, so a later
-- state always replaces an earlier one, and a replayed record writes an
-- identical row. Readers take the newest row per key with
-- `ORDER BY version DESC LIMIT 1 BY <key>` (or FINAL on small selections).
--
-- msg_created_at is the message id's UUIDv7 time (the message's creation), a
-- column because ClickHouse does not sort UUIDs by time; it never changes for
-- a row, so it can sit in the sort key and serve "newest message first"
-- keysets `(msg_created_at, msg_id)`.

-- One row per message x endpoint (Svix "attempted messages" of an endpoint and
-- "attempted destinations" of a message). Sort key serves the endpoint's list,
-- newest message first, filtered by status / event type / channel; the bloom
-- filter on msg_id serves one message's destinations.
CREATE TABLE IF NOT EXISTS message_endpoint_status
(
    app_id                UUID,
    endpoint_id           UUID,
    msg_id                UUID,
    msg_created_at        DateTime64(3, 'UTC'),
    event_type            LowCardinality(String),
    event_id              Nullable(String),
    channels              Array(LowCardinality(String)),
    -- Values as Svix numbers them (0 success, 1 pending, 2 fail, 3 sending).
    status                Enum8('success' = 0, 'pending' = 1, 'fail' = 2, 'sending' = 3),
    attempt_count         UInt32,
    last_attempt_id       Nullable(UUID),
    last_attempt_at       Nullable(DateTime64(6, 'UTC')),
    last_response_status  Nullable(UInt16),
    next_attempt_at       Nullable(DateTime64(6, 'UTC')),
    version               UInt64,
    updated_at            DateTime64(6, 'UTC'),
    INDEX idx_msg_id msg_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, endpoint_id, msg_created_at, msg_id)
SETTINGS index_granularity = 1024;

-- One row per message: its state across every endpoint it was attempted at
-- (filters of message lists by status, and the counts per message).
CREATE TABLE IF NOT EXISTS message_status
(
    app_id               UUID,
    msg_id               UUID,
    msg_created_at       DateTime64(3, 'UTC'),
    status               Enum8('success' = 0, 'pending' = 1, 'fail' = 2, 'sending' = 3),
    attempt_count        UInt32,
    last_attempt_id      Nullable(UUID),
    last_attempt_at      Nullable(DateTime64(6, 'UTC')),
    next_attempt_at      Nullable(DateTime64(6, 'UTC')),
    endpoint_count       UInt32,
    succeeded_endpoints  UInt32,
    failed_endpoints     UInt32,
    version              UInt64,
    updated_at           DateTime64(6, 'UTC'),
    INDEX idx_msg_id msg_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, msg_created_at, msg_id)
SETTINGS index_granularity = 1024;
