-- 003_rollups: attempt rollups per application x endpoint x hour and x day,
-- maintained by ClickHouse itself (materialized views over inserts into
-- `attempts`). docs/analytics.md documents every column with ready queries.
--
-- Why set-valued states and not sums. The projector is at-least-once: a crash
-- between its ClickHouse insert and its offset commit re-inserts a batch of
-- identical attempt rows, and an expunge re-inserts rows with content blanked.
-- `attempts` absorbs both (ReplacingMergeTree, readers LIMIT 1 BY attempt_id),
-- but a materialized view sees every inserted row, so a SummingMergeTree or
-- countState()/quantilesState() rollup would count a replayed attempt twice,
-- and no view can tell a replay from a first insert. So every state here is a
-- function of the SET of attempts in the bucket, which a duplicate leaves
-- unchanged:
--   * counts are uniqExact states over attempt_id (per outcome, per error
--     class, per status-code class, per connection reuse);
--   * quantiles are quantilesExactDistinct states over (duration_us << 24 |
--     24 bits of a hash of attempt_id): the -Distinct combinator keeps each
--     (duration, attempt) once, and the composite orders by duration first, so
--     `arrayMap(v -> bitShiftRight(v, 24), quantilesExactDistinctMerge(...))`
--     equals quantilesExact(...)(duration_us) over the distinct attempts (two
--     attempts of one bucket with the same duration AND the same 24-bit hash
--     would count once: the same value once fewer, no other effect).
--     Durations are capped at 2^40 us (12.7 days) to fit the shift (with `if`,
--     not `least`, which turns a NULL (phase not measured) into the cap).
-- The price: states hold one entry per distinct attempt (not a fixed-size
-- sketch), i.e. the rollups are about as large as the light columns of
-- `attempts`; they pay back in queries that need no dedupe and read only the
-- requested buckets. Measured figures are in docs/analytics.md.
--
-- Expunged rewrites (expunged = 1) are skipped by the views: the original row
-- already counted, and the rewrite changes no column a rollup reads.
-- A re-delivered attempt (the same attempt_id delivered twice with different
-- results, possible after a delivery-worker crash) counts once in `attempts`
-- but its two outcomes both count; `attempts` keeps only the later one.
--
-- `hookstream project --rebuild` truncates these tables with `attempts` and
-- replays: the views fill them again. Same rules as 001: tenant first in the
-- sort key, no PARTITION BY, idempotent statements.

CREATE TABLE IF NOT EXISTS attempt_rollup_hourly
(
    app_id                    UUID,
    endpoint_id               UUID,
    bucket                    DateTime('UTC'),
    attempts                  AggregateFunction(uniqExact, UUID),
    successes                 AggregateFunction(uniqExact, Nullable(UUID)),
    failures_by_error_class   AggregateFunction(uniqExactMap, Map(String, UUID)),
    by_status_code_class      AggregateFunction(uniqExactMap, Map(UInt16, UUID)),
    reused_connections        AggregateFunction(uniqExact, Nullable(UUID)),
    total_us_q                AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), UInt64),
    dns_us_q                  AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), Nullable(UInt64)),
    tcp_connect_us_q          AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), Nullable(UInt64)),
    tls_handshake_us_q        AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), Nullable(UInt64)),
    ttfb_us_q                 AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), Nullable(UInt64)),
    transfer_us_q             AggregateFunction(quantilesExactDistinct(0.5, 0.9, 0.99), Nullable(UInt64))
)
ENGINE = AggregatingMergeTree
ORDER BY (app_id, endpoint_id, bucket);

CREATE TABLE IF NOT EXISTS attempt_rollup_daily AS attempt_rollup_hourly
ENGINE = AggregatingMergeTree
ORDER BY (app_id, endpoint_id, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS attempt_rollup_hourly_mv TO attempt_rollup_hourly
AS SELECT
    app_id,
    endpoint_id,
    toStartOfHour(started_at) AS bucket,
    uniqExactState(attempt_id) AS attempts,
    uniqExactState(if(status = 'success', attempt_id, NULL)) AS successes,
    uniqExactMapState(if(status = 'failed', map(ifNull(error_class, 'unknown'), attempt_id), map())) AS failures_by_error_class,
    uniqExactMapState(map(status_code_class, attempt_id)) AS by_status_code_class,
    uniqExactState(if(conn_reused, attempt_id, NULL)) AS reused_connections,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(total_us > 1099511627775, 1099511627775, total_us), 24), sipHash64(attempt_id) % 16777216)) AS total_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(dns_us > 1099511627775, 1099511627775, dns_us), 24), sipHash64(attempt_id) % 16777216)) AS dns_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tcp_connect_us > 1099511627775, 1099511627775, tcp_connect_us), 24), sipHash64(attempt_id) % 16777216)) AS tcp_connect_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tls_handshake_us > 1099511627775, 1099511627775, tls_handshake_us), 24), sipHash64(attempt_id) % 16777216)) AS tls_handshake_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(ttfb_us > 1099511627775, 1099511627775, ttfb_us), 24), sipHash64(attempt_id) % 16777216)) AS ttfb_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(transfer_us > 1099511627775, 1099511627775, transfer_us), 24), sipHash64(attempt_id) % 16777216)) AS transfer_us_q
FROM attempts
WHERE expunged = 0
GROUP BY app_id, endpoint_id, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS attempt_rollup_daily_mv TO attempt_rollup_daily
AS SELECT
    app_id,
    endpoint_id,
    toStartOfDay(started_at) AS bucket,
    uniqExactState(attempt_id) AS attempts,
    uniqExactState(if(status = 'success', attempt_id, NULL)) AS successes,
    uniqExactMapState(if(status = 'failed', map(ifNull(error_class, 'unknown'), attempt_id), map())) AS failures_by_error_class,
    uniqExactMapState(map(status_code_class, attempt_id)) AS by_status_code_class,
    uniqExactState(if(conn_reused, attempt_id, NULL)) AS reused_connections,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(total_us > 1099511627775, 1099511627775, total_us), 24), sipHash64(attempt_id) % 16777216)) AS total_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(dns_us > 1099511627775, 1099511627775, dns_us), 24), sipHash64(attempt_id) % 16777216)) AS dns_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tcp_connect_us > 1099511627775, 1099511627775, tcp_connect_us), 24), sipHash64(attempt_id) % 16777216)) AS tcp_connect_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tls_handshake_us > 1099511627775, 1099511627775, tls_handshake_us), 24), sipHash64(attempt_id) % 16777216)) AS tls_handshake_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(ttfb_us > 1099511627775, 1099511627775, ttfb_us), 24), sipHash64(attempt_id) % 16777216)) AS ttfb_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(transfer_us > 1099511627775, 1099511627775, transfer_us), 24), sipHash64(attempt_id) % 16777216)) AS transfer_us_q
FROM attempts
WHERE expunged = 0
GROUP BY app_id, endpoint_id, bucket;

-- Backfill: a deployment that already holds attempts gets rollups of its history
-- (views only see new inserts). Safe to re-run, and safe while the projector
-- writes: the states are sets, so an attempt inserted twice counts once.

INSERT INTO attempt_rollup_hourly
SELECT
    app_id,
    endpoint_id,
    toStartOfHour(started_at) AS bucket,
    uniqExactState(attempt_id) AS attempts,
    uniqExactState(if(status = 'success', attempt_id, NULL)) AS successes,
    uniqExactMapState(if(status = 'failed', map(ifNull(error_class, 'unknown'), attempt_id), map())) AS failures_by_error_class,
    uniqExactMapState(map(status_code_class, attempt_id)) AS by_status_code_class,
    uniqExactState(if(conn_reused, attempt_id, NULL)) AS reused_connections,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(total_us > 1099511627775, 1099511627775, total_us), 24), sipHash64(attempt_id) % 16777216)) AS total_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(dns_us > 1099511627775, 1099511627775, dns_us), 24), sipHash64(attempt_id) % 16777216)) AS dns_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tcp_connect_us > 1099511627775, 1099511627775, tcp_connect_us), 24), sipHash64(attempt_id) % 16777216)) AS tcp_connect_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tls_handshake_us > 1099511627775, 1099511627775, tls_handshake_us), 24), sipHash64(attempt_id) % 16777216)) AS tls_handshake_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(ttfb_us > 1099511627775, 1099511627775, ttfb_us), 24), sipHash64(attempt_id) % 16777216)) AS ttfb_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(transfer_us > 1099511627775, 1099511627775, transfer_us), 24), sipHash64(attempt_id) % 16777216)) AS transfer_us_q
FROM attempts
WHERE expunged = 0
GROUP BY app_id, endpoint_id, bucket;

INSERT INTO attempt_rollup_daily
SELECT
    app_id,
    endpoint_id,
    toStartOfDay(started_at) AS bucket,
    uniqExactState(attempt_id) AS attempts,
    uniqExactState(if(status = 'success', attempt_id, NULL)) AS successes,
    uniqExactMapState(if(status = 'failed', map(ifNull(error_class, 'unknown'), attempt_id), map())) AS failures_by_error_class,
    uniqExactMapState(map(status_code_class, attempt_id)) AS by_status_code_class,
    uniqExactState(if(conn_reused, attempt_id, NULL)) AS reused_connections,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(total_us > 1099511627775, 1099511627775, total_us), 24), sipHash64(attempt_id) % 16777216)) AS total_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(dns_us > 1099511627775, 1099511627775, dns_us), 24), sipHash64(attempt_id) % 16777216)) AS dns_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tcp_connect_us > 1099511627775, 1099511627775, tcp_connect_us), 24), sipHash64(attempt_id) % 16777216)) AS tcp_connect_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(tls_handshake_us > 1099511627775, 1099511627775, tls_handshake_us), 24), sipHash64(attempt_id) % 16777216)) AS tls_handshake_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(ttfb_us > 1099511627775, 1099511627775, ttfb_us), 24), sipHash64(attempt_id) % 16777216)) AS ttfb_us_q,
    quantilesExactDistinctState(0.5, 0.9, 0.99)(bitOr(bitShiftLeft(if(transfer_us > 1099511627775, 1099511627775, transfer_us), 24), sipHash64(attempt_id) % 16777216)) AS transfer_us_q
FROM attempts
WHERE expunged = 0
GROUP BY app_id, endpoint_id, bucket;
