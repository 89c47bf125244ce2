-- Daily rollups: each closed UTC day's counts, per value of each dimension, so a query over many
-- days reads a few thousand rows instead of millions of events. Visitor ids change with the UTC
-- day and a visit counts on the day it started, so days add up exactly (see stats/rollup.rs).
-- Derived data: deleting a site's mark rebuilds its rows from the events.
CREATE TABLE rollups (
    site            VARCHAR NOT NULL,
    day             DATE    NOT NULL,   -- UTC
    dimension       VARCHAR NOT NULL,   -- '' for the day's totals, else e.g. 'event:page'
    value           VARCHAR NOT NULL,   -- as answered (labels such as 'Direct / None' included)
    visitors        BIGINT  NOT NULL,   -- distinct visitor ids among the day's events
    pageviews       BIGINT  NOT NULL,
    events          BIGINT  NOT NULL,
    sessions        BIGINT  NOT NULL,   -- visits that started on the day (by page: entered on it)
    bounced         BIGINT  NOT NULL,
    duration_us     BIGINT  NOT NULL,
    visit_pageviews BIGINT  NOT NULL
);
-- How far each site is rolled up: every day before `through` has its rows.
CREATE TABLE rollup_marks (
    site    VARCHAR PRIMARY KEY,
    through DATE    NOT NULL
);
