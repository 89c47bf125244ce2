-- Every drop count, for `footfall migrate`.
SELECT day, site, reason, count FROM dropped_events ORDER BY day, site, reason
