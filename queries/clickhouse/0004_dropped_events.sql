-- Events not recorded, counted per UTC day, site ('' when no registered site) and reason, as in
-- queries/migrations/0003_dropped_events.sql. Unlike the other small tables (see
-- docs/clickhouse.md) this one belongs with the events: every collector adds to it, and it is
-- read like a report.
--
-- DuckDB adds to one row per key (INSERT ... ON CONFLICT); ClickHouse cannot update in place, so
-- each collector inserts its own increments and SummingMergeTree adds rows with the same key
-- when it merges parts. Merges are eventual: read with sum(count) and GROUP BY.
CREATE DATABASE IF NOT EXISTS footfall;

CREATE TABLE IF NOT EXISTS footfall.dropped_events_local (
    day    Date,
    site   String,
    reason String,   -- bot, unknown_site, spam, invalid, excluded
    count  UInt64
) ENGINE = SummingMergeTree(count)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, reason);

-- Increments may land on any shard: they are only ever summed.
CREATE TABLE IF NOT EXISTS footfall.dropped_events AS footfall.dropped_events_local
ENGINE = Distributed(footfall, footfall, dropped_events_local, rand());
