-- Daily event counts per dimension value, kept up to date by ClickHouse itself: a materialized
-- view turns each block inserted into a shard's `events_local` into partial aggregates, which
-- the AggregatingMergeTree merges in the background. The counterpart of the event columns of
-- DuckDB's `rollups` (queries/migrations/0005_rollups.sql), without the keeper thread and
-- `rollup_marks`: an event is in its day's row as soon as it is inserted, open days included.
--
-- What it cannot hold: the visit metrics of `rollups` (sessions, bounced, duration_us,
-- visit_pageviews). A materialized view sees one insert block at a time, and a visit spans
-- many; its bounce or length is only known once it is over. Visits have their own
-- per-session aggregate table, `sessions` (0003); visit metrics per day are read from it, or
-- rolled up by a keeper as DuckDB does (see docs/clickhouse.md).
--
-- Rows are partial until merged, and a merge may never happen: always read with the -Merge
-- functions and GROUP BY, never the raw rows.
CREATE DATABASE IF NOT EXISTS footfall;

CREATE TABLE IF NOT EXISTS footfall.daily_local (
    site       String,
    day        Date,     -- UTC
    dimension  String,   -- '' for the day's totals, else the Stats API's name, e.g. 'event:page'
    value      String,   -- the raw value ('' when unknown); labels such as 'Direct / None' are
                         -- the reader's business, as in the builder's dimension_sql
    -- Exact, like DuckDB's count(DISTINCT): the cross-backend test compares equal answers. Its
    -- state is the set of ids; uniqState would be a few KB whatever the count, and approximate.
    visitors   AggregateFunction(uniqExact, UInt64),
    pageviews  AggregateFunction(sum, UInt64),
    events     AggregateFunction(sum, UInt64)   -- every event but engagement reports
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, dimension, value);

-- Each event counts once under the totals and once under each dimension listed. Visitor
-- attributes (country, device, browser, OS) are the same on every event of a visitor's day, so
-- their visitor and pageview counts add up over days like the totals do. Sources and UTM tags
-- are not here: they are a visit's (its first event's), read from `sessions`.
CREATE MATERIALIZED VIEW IF NOT EXISTS footfall.daily_mv TO footfall.daily_local AS
SELECT
    site,
    toDate(ts) AS day,
    dv.1 AS dimension,
    dv.2 AS value,
    uniqExactState(visitor_id) AS visitors,
    sumState(toUInt64(name = 'pageview')) AS pageviews,
    sumState(toUInt64(name != 'engagement')) AS events
FROM footfall.events_local
ARRAY JOIN [
    ('', ''),
    ('event:page', path),
    ('event:name', name),
    ('event:hostname', hostname),
    ('visit:country', country),
    ('visit:device', device),
    ('visit:browser', browser),
    ('visit:os', os)
] AS dv
GROUP BY site, day, dimension, value;

-- All shards' rows. Reads only: the view fills each shard's table from that shard's events, so
-- no row is ever inserted here (the sharding key is required but unused).
CREATE TABLE IF NOT EXISTS footfall.daily AS footfall.daily_local
ENGINE = Distributed(footfall, footfall, daily_local, rand());
