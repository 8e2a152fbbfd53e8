-- 001_projection: the ClickHouse projection of hookstream's topics.
--
-- Applied by hookstream.projector.migrations, statement by statement, in the
-- client's database (names stay unqualified). ClickHouse DDL is not
-- transactional, so every statement is idempotent (IF NOT EXISTS): a run that
-- died half-way is simply re-run.
--
-- Rules shared by every table (see DESIGN.md "Storage", measured on chDB):
-- * The tenant (app_id) leads every sort key.
-- * ReplacingMergeTree(version): a re-projected event writes an identical row
--   (same version), and a later event (expunge, config edit) writes a higher
--   version. Readers use `LIMIT 1 BY <id>` on ordered results rather than FINAL,
--   which doubled latency over unmerged parts.
-- * index_granularity = 1024: measured p99 15-33 ms for LIMIT 50 lists at
--   10M attempts; the default 8192 with monthly partitions missed 50 ms.
-- * No PARTITION BY anywhere, although DESIGN.md says "partition by month":
--   every list is "one tenant, newest first, LIMIT 50", and monthly partitions
--   multiply the parts each lookup probes. Measured (10M attempts over 50 apps
--   and 6 months, merged, p50/p99 ms): by endpoint 35.6/69.4 partitioned vs
--   9.9/29.9 not; by message 21.6/43.7 vs 13.6/28.7 (DESIGN.md: 55-76 ms vs
--   15-33 ms). Nothing here drops whole months: retention is column TTL.
-- * ClickHouse sorts UUIDs by their last 8 bytes first, so a UUIDv7 column does
--   NOT sort by time: time order always comes from a timestamp column, and a
--   UUID in a sort key is only a tie-breaker or an exact-match key.
-- * Timestamps are DateTime64(6, 'UTC'), microseconds as in the Avro records
--   (timestamp-micros); durations are microseconds in UInt64.
-- * Payload retention: column TTL needs a constant, so bodies, headers and
--   payloads are cleared 90 days after their row's time. Change it with a later
--   migration (ALTER TABLE ... MODIFY COLUMN ... TTL ...), not by editing this
--   file: an applied file's checksum is checked on every start.

-- One row per delivery attempt (AttemptFinished), every Avro field a column.
-- Sort key serves the main list: attempts of an endpoint, newest first, with
-- status / event type / status-code-class filters and a keyset cursor on
-- (started_at, attempt_id).
CREATE TABLE IF NOT EXISTS attempts
(
    attempt_id              UUID,
    app_id                  UUID,
    msg_id                  UUID,
    endpoint_id             UUID,
    event_type              LowCardinality(String),
    event_id                Nullable(String),
    channels                Array(LowCardinality(String)),
    attempt_number          UInt32,
    trigger                 Enum8('scheduled' = 1, 'manual' = 2),
    trigger_seq             UInt32,
    url                     String,
    status                  Enum8('success' = 1, 'failed' = 2),
    response_status         UInt16,
    status_code_class       UInt16,
    -- Open set (new failure kinds get added to the Avro enum): a string, so an
    -- unknown value never stops the projector.
    error_class             LowCardinality(Nullable(String)),
    error_text              Nullable(String),
    request_headers         Map(LowCardinality(String), String) TTL toDateTime(started_at) + INTERVAL 90 DAY,
    response_headers        Map(LowCardinality(String), String) TTL toDateTime(started_at) + INTERVAL 90 DAY,
    response_body           Nullable(String) TTL toDateTime(started_at) + INTERVAL 90 DAY,
    response_body_size      UInt64,
    response_body_truncated Bool,
    response_content_type   LowCardinality(Nullable(String)),
    resolved_ip             Nullable(String),
    conn_reused             Bool,
    dns_us                  Nullable(UInt64),
    tcp_connect_us          Nullable(UInt64),
    tls_handshake_us        Nullable(UInt64),
    ttfb_us                 Nullable(UInt64),
    transfer_us             Nullable(UInt64),
    total_us                UInt64,
    processing_us           UInt64,
    retry_type              LowCardinality(Nullable(String)),
    retry_after_seconds     Nullable(UInt32),
    next_attempt_at         Nullable(DateTime64(6, 'UTC')),
    due_at                  Nullable(DateTime64(6, 'UTC')),
    started_at              DateTime64(6, 'UTC'),
    finished_at             DateTime64(6, 'UTC'),
    worker_id               LowCardinality(Nullable(String)),
    version                 UInt64,
    expunged                UInt8,
    INDEX idx_msg_id msg_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, endpoint_id, started_at, attempt_id)
SETTINGS index_granularity = 1024;

-- Second access path: attempts of one message, a full copy ordered by message
-- and filled by the materialized view below (the projector inserts into
-- `attempts` only). Measured on chDB 26.9, 2 cores, merged parts, LIMIT 50
-- light columns, p50 ms:
--   5M attempts in one app, same data, interleaved:
--     bloom_filter on attempts 28.0 (reads ~47 granules: the filter's false
--     positives grow with the tenant), this table 12.7 (reads 1 granule),
--     a `_part_offset` projection on attempts 24.7 (chDB did not use it).
--   10M attempts over 50 apps: bloom 13.6 (p99 28.7), this table 13.9 (p99 20.3).
-- Cost: twice the storage (10M attempts: 318 -> 619 MiB) and twice the
-- engine's insert work, which is lost in clickhouse-connect's own Python
-- serialization (100k rows via client.insert: 3.1 s with the view, 3.6 s
-- without, i.e. noise; ~30 us a row either way). A projection
-- on a ReplacingMergeTree also needs deduplicate_merge_projection_mode set,
-- and needs ClickHouse >= 25.5 for `_part_offset`; a table works everywhere.
-- Same columns and versions as `attempts`, so the same dedupe rule applies.
-- Partitioning: none, for the same reason (this table exists for by-message).
-- Schema changes to `attempts` must be repeated here (ALTER both).
CREATE TABLE IF NOT EXISTS attempts_by_msg AS attempts
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, msg_id, started_at, attempt_id)
SETTINGS index_granularity = 1024;

-- msg_id leads this table's key; the copied bloom filter would only cost inserts.
ALTER TABLE attempts_by_msg DROP INDEX IF EXISTS idx_msg_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS attempts_by_msg_mv TO attempts_by_msg
AS SELECT * FROM attempts;

-- One row per accepted message (MessageAccepted); an expunge rewrites the row
-- with the payload emptied, expunged = 1 and a higher version, keeping
-- accepted_at so the sort key (and so the replaced row) stays the same.
-- Time-first sort key: messages are listed newest first per app, and UUIDv7
-- msg_id does not sort by time in ClickHouse. Lookups by id and by event_id go
-- through bloom filters (granule-sized reads).
CREATE TABLE IF NOT EXISTS messages
(
    app_id       UUID,
    msg_id       UUID,
    event_type   LowCardinality(String),
    event_id     Nullable(String),
    channels     Array(LowCardinality(String)),
    tags         Array(LowCardinality(String)),
    payload      String TTL toDateTime(accepted_at) + INTERVAL 90 DAY,
    accepted_at  DateTime64(6, 'UTC'),
    expunged     UInt8,
    version      UInt64,
    INDEX idx_msg_id msg_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, accepted_at, msg_id)
SETTINGS index_granularity = 1024;

-- Config views (topic `config`, compacted). Small tables, one row per entity
-- after merges; deletions are rows with deleted = 1 and a higher version.
-- Secrets are never projected: operators query these tables freely.
CREATE TABLE IF NOT EXISTS applications
(
    app_id      UUID,
    uid         Nullable(String),
    name        String,
    metadata    Map(String, String),
    rate_limit  Nullable(UInt32),
    created_at  DateTime64(6, 'UTC'),
    updated_at  DateTime64(6, 'UTC'),
    deleted     UInt8,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY app_id;

CREATE TABLE IF NOT EXISTS endpoints
(
    app_id       UUID,
    endpoint_id  UUID,
    uid          Nullable(String),
    url          String,
    description  String,
    event_types  Array(LowCardinality(String)),
    channels     Array(LowCardinality(String)),
    disabled     UInt8,
    rate_limit   Nullable(UInt32),
    metadata     Map(String, String),
    headers      Map(String, String),
    created_at   DateTime64(6, 'UTC'),
    updated_at   DateTime64(6, 'UTC'),
    deleted      UInt8,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, endpoint_id);

-- Event types are deployment-wide (not per app), keyed by name.
CREATE TABLE IF NOT EXISTS event_types
(
    name          String,
    description   String,
    schemas       String,
    feature_flag  Nullable(String),
    group_name    Nullable(String),
    archived      UInt8,
    deprecated    UInt8,
    created_at    DateTime64(6, 'UTC'),
    updated_at    DateTime64(6, 'UTC'),
    deleted       UInt8,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;
