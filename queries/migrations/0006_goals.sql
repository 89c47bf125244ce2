-- Goals added with `footfall goal add`: pageviews of a path pattern, or custom events of a name,
-- that count as conversions. Goals declared in the config file are not copied here.
CREATE TABLE goals (
    site       VARCHAR   NOT NULL,
    kind       VARCHAR   NOT NULL,   -- 'page' or 'event'
    value      VARCHAR   NOT NULL,   -- the path pattern or the event name
    created_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP),
    PRIMARY KEY (site, kind, value)
);
