-- The events, as queries/migrations/0001_events.sql keeps them in DuckDB, on ClickHouse 18.16 and
-- later. Run on every server of the `footfall` cluster (18.16 has no ON CLUSTER without
-- ZooKeeper): `events_local` holds each shard's part, `events` reads and writes all of them.
-- Names are qualified with the database because a Distributed table's database argument is
-- stored as written (`currentDatabase()` would be read in the querying session's database).
CREATE DATABASE IF NOT EXISTS footfall;

-- One row per recorded event. Strings are '' when unknown, never NULL, as in DuckDB.
--
-- Time: 18.16 has no DateTime64, so an instant is kept twice. `ts_us` (microseconds since the
-- epoch) is the exact instant DuckDB's TIMESTAMP holds: visit durations, the order of a visit's
-- events (entry and exit pages) and period bounds are read from it, or they would differ from
-- DuckDB's by up to a second. `ts` (whole seconds, UTC) is derived from it on insert: it is what
-- the partition key, the primary key and the date functions use. Writers never send it. It is a
-- DEFAULT, not a MATERIALIZED column, because 18.16's Distributed table forwards every column to
-- the shards, and a shard refuses a value for a MATERIALIZED one ("Cannot insert column ts").
-- An INSERT must name its columns: 18.16 fills a column left out of a JSONEachRow row with 0
-- (1970), not with its DEFAULT, unless the column list leaves it out too.
-- The type says UTC so that toDate, toYYYYMM, toStartOfDay and text output read it as UTC
-- whatever the server's own time zone (formatDateTime is the exception: give it 'UTC').
--
-- ORDER BY (site, ts): every query reads one site's events over a time range (the period, or
-- the visit window a day either side), so this key turns each query into one contiguous range of
-- granules per part, down to the second for the realtime count. Nothing else is worth adding:
-- the dashboard's filters (page, source, country, ...) select rows spread over the whole range,
-- and 18.16 aggregates by hashing whatever the order.
--
-- PARTITION BY month: retention is DROP PARTITION (18.16 has no TTL), and a month is a
-- partition count that stays small for decades of data.
--
-- props: 18.16 has no Map. A Nested column is two arrays, `props.key` and `props.value`, whose
-- lengths ClickHouse checks to be equal on every insert; `props.value[indexOf(props.key, k)]`
-- reads a key ('' when absent, so "absent" is `NOT has(props.key, k)`), `ARRAY JOIN props` lists
-- them. Newer servers read and write it the same way (flatten_nested defaults to 1).
--
-- Nullable only where DuckDB has NULLs: engagement events' own two numbers.
CREATE TABLE IF NOT EXISTS footfall.events_local (
    site            String,
    ts              DateTime('UTC') DEFAULT toDateTime(intDiv(ts_us, 1000000), 'UTC'),
    ts_us           UInt64,               -- UTC, server time of receipt, microseconds
    name            String,               -- 'pageview', 'engagement' or a custom event name
    hostname        String,
    path            String,               -- normalised; no query string
    visitor_id      UInt64,               -- keyed hash under the day's salt
    session_id      UInt64,
    interactive     UInt8,                -- 0: does not end a bounce
    referrer        String,               -- host/path, no query string
    source          String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_content     String,
    utm_term        String,
    click_id        String,               -- which click-id parameter was present, not its value
    country         String,               -- ISO 3166-1 alpha-2 (not FixedString: '' must stay '')
    region          String,
    city            String,
    browser         String,
    browser_version String,
    os              String,
    os_version      String,
    device          String,               -- 'Desktop', 'Mobile', 'Tablet' or ''
    props           Nested(key String, value String),
    engaged_ms      Nullable(UInt32),     -- engagement events only
    scroll_depth    Nullable(UInt8)       -- engagement events only, percent
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site, ts)
SETTINGS index_granularity = 8192;

-- All shards' events. Sharding key: the session id, so every event of a visit lands on one
-- shard.
-- Why the visit: most of a query's work is grouping the visit window's events by session (entry
-- and exit pages, duration, bounces). With whole visits on each shard, that grouping and the
-- visit metrics computed from it are exact per shard and add up across shards, so a query can
-- be pushed down to the shards whole (`sessions` in 0003 relies on it too). Distinct visitors
-- do not add up across shards (one visitor's visits may be on several), but merging uniqExact
-- states at the initiator is exact, which is what a Distributed query does by default.
-- Why not the visitor id: a visit crossing midnight changes visitor id (a new daily salt) and
-- keeps its session id, so sharding by visitor would split exactly those visits.
-- Why the raw id and not a hash of it: session ids are random 64-bit numbers, already uniform,
-- and `session_id % shards` is what a writer must compute if it ever inserts into the shards'
-- local tables itself (ClickHouse picks the shard as key % the sum of the shards' weights).
CREATE TABLE IF NOT EXISTS footfall.events AS footfall.events_local
ENGINE = Distributed(footfall, footfall, events_local, session_id);
