-- Events not recorded, counted per UTC day, site ('' when no registered site) and reason.
CREATE TABLE dropped_events (
    day    DATE    NOT NULL,
    site   VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,   -- bot, unknown_site, spam, invalid, excluded
    count  UBIGINT NOT NULL,
    PRIMARY KEY (day, site, reason)
);
