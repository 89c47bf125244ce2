-- One row per recorded event. Append-only, in arrival order, which keeps DuckDB's zone maps on
-- `ts` tight; no primary key or index (they would slow every append and help no report).
-- Strings are '' when unknown, never NULL, so reports group without special cases.
CREATE TABLE events (
    site            VARCHAR   NOT NULL,
    ts              TIMESTAMP NOT NULL,   -- UTC, server time of receipt
    name            VARCHAR   NOT NULL,   -- 'pageview', 'engagement' or a custom event name
    hostname        VARCHAR   NOT NULL,
    path            VARCHAR   NOT NULL,   -- normalised; no query string
    visitor_id      UBIGINT   NOT NULL,   -- keyed hash under the day's salt
    session_id      UBIGINT   NOT NULL,
    interactive     BOOLEAN   NOT NULL,   -- false: does not end a bounce
    referrer        VARCHAR   NOT NULL,   -- host/path, no query string
    source          VARCHAR   NOT NULL,
    utm_source      VARCHAR   NOT NULL,
    utm_medium      VARCHAR   NOT NULL,
    utm_campaign    VARCHAR   NOT NULL,
    utm_content     VARCHAR   NOT NULL,
    utm_term        VARCHAR   NOT NULL,
    click_id        VARCHAR   NOT NULL,   -- which click-id parameter was present, not its value
    country         VARCHAR   NOT NULL,   -- ISO 3166-1 alpha-2
    region          VARCHAR   NOT NULL,
    city            VARCHAR   NOT NULL,
    browser         VARCHAR   NOT NULL,
    browser_version VARCHAR   NOT NULL,
    os              VARCHAR   NOT NULL,
    os_version      VARCHAR   NOT NULL,
    device          VARCHAR   NOT NULL,   -- 'Desktop', 'Mobile', 'Tablet' or ''
    props           MAP(VARCHAR, VARCHAR) NOT NULL,
    engaged_ms      UINTEGER,             -- engagement events only
    scroll_depth    UTINYINT              -- engagement events only, percent
);
