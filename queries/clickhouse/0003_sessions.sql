-- Visits, aggregated as their events arrive: one row per (site, UTC day, session) on the shard
-- that holds the visit (events are sharded by session id, see 0001). This is the builder's `v`
-- relation (a visit's first-event attributes, entry and exit pages, start, length, pageviews,
-- interactions) kept ready, so a query groups one row per visit and day instead of every event
-- of the visit window. No DuckDB table matches it: DuckDB computes `v` from the events each
-- time (queries/src/stats/sql.rs), and this table must give the same answers.
--
-- A visit crossing midnight has a row for each of its two days (`day` is in the key so that a
-- query reads only the days of its visit window); reading merges them by session.
-- Rows are partial until merged, and a merge may never happen: always read with the -Merge
-- functions and GROUP BY session_id, e.g.
--   SELECT session_id, minMerge(started) AS started,
--          maxMerge(ended) - minMerge(started) AS duration_us,
--          argMinIfMerge(entry_page) AS entry_page, ...
--   FROM footfall.sessions WHERE site = '...' AND day >= ... AND day < ... GROUP BY session_id
-- "First" and "last" are by `ts_us`, the exact instant, as DuckDB's arg_min(x, ts) is.
CREATE DATABASE IF NOT EXISTS footfall;

CREATE TABLE IF NOT EXISTS footfall.sessions_local (
    site                String,
    day                 Date,      -- UTC day of the events this row aggregates
    session_id          UInt64,
    visitor_id          AggregateFunction(argMin, UInt64, UInt64),   -- the first event's
    started             AggregateFunction(min, UInt64),              -- ts_us
    ended               AggregateFunction(max, UInt64),              -- ts_us
    -- Pages are the first and last pageview's; '' when the visit has none (DuckDB's coalesce).
    entry_page          AggregateFunction(argMinIf, String, UInt64, UInt8),
    exit_page           AggregateFunction(argMaxIf, String, UInt64, UInt8),
    entry_page_hostname AggregateFunction(argMinIf, String, UInt64, UInt8),
    exit_page_hostname  AggregateFunction(argMaxIf, String, UInt64, UInt8),
    -- The first event's, whatever its name, as VisitField columns are.
    source              AggregateFunction(argMin, String, UInt64),
    referrer            AggregateFunction(argMin, String, UInt64),
    utm_source          AggregateFunction(argMin, String, UInt64),
    utm_medium          AggregateFunction(argMin, String, UInt64),
    utm_campaign        AggregateFunction(argMin, String, UInt64),
    utm_content         AggregateFunction(argMin, String, UInt64),
    utm_term            AggregateFunction(argMin, String, UInt64),
    click_id            AggregateFunction(argMin, String, UInt64),
    country             AggregateFunction(argMin, String, UInt64),
    region              AggregateFunction(argMin, String, UInt64),
    city                AggregateFunction(argMin, String, UInt64),
    device              AggregateFunction(argMin, String, UInt64),
    browser             AggregateFunction(argMin, String, UInt64),
    browser_version     AggregateFunction(argMin, String, UInt64),
    os                  AggregateFunction(argMin, String, UInt64),
    os_version          AggregateFunction(argMin, String, UInt64),
    pageviews           AggregateFunction(sum, UInt64),
    -- Interactive events besides pageviews and engagement reports: any ends a bounce.
    interactions        AggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS footfall.sessions_mv TO footfall.sessions_local AS
SELECT
    site,
    toDate(ts) AS day,
    session_id,
    argMinState(visitor_id, ts_us) AS visitor_id,
    minState(ts_us) AS started,
    maxState(ts_us) AS ended,
    argMinIfState(path, ts_us, toUInt8(name = 'pageview')) AS entry_page,
    argMaxIfState(path, ts_us, toUInt8(name = 'pageview')) AS exit_page,
    argMinIfState(hostname, ts_us, toUInt8(name = 'pageview')) AS entry_page_hostname,
    argMaxIfState(hostname, ts_us, toUInt8(name = 'pageview')) AS exit_page_hostname,
    argMinState(source, ts_us) AS source,
    argMinState(referrer, ts_us) AS referrer,
    argMinState(utm_source, ts_us) AS utm_source,
    argMinState(utm_medium, ts_us) AS utm_medium,
    argMinState(utm_campaign, ts_us) AS utm_campaign,
    argMinState(utm_content, ts_us) AS utm_content,
    argMinState(utm_term, ts_us) AS utm_term,
    argMinState(click_id, ts_us) AS click_id,
    argMinState(country, ts_us) AS country,
    argMinState(region, ts_us) AS region,
    argMinState(city, ts_us) AS city,
    argMinState(device, ts_us) AS device,
    argMinState(browser, ts_us) AS browser,
    argMinState(browser_version, ts_us) AS browser_version,
    argMinState(os, ts_us) AS os,
    argMinState(os_version, ts_us) AS os_version,
    sumState(toUInt64(name = 'pageview')) AS pageviews,
    sumState(toUInt64(interactive AND name NOT IN ('pageview', 'engagement'))) AS interactions
FROM footfall.events_local
GROUP BY site, day, session_id;

-- All shards' visits, for reading (the view fills each shard's table; nothing is inserted here).
CREATE TABLE IF NOT EXISTS footfall.sessions AS footfall.sessions_local
ENGINE = Distributed(footfall, footfall, sessions_local, session_id);
