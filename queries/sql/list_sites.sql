SELECT s.domain, s.timezone, s.created_at, coalesce(e.events, 0)::UBIGINT AS events,
       s.public_counters
FROM sites s
LEFT JOIN (SELECT site, count(*) AS events FROM events GROUP BY site) e ON e.site = s.domain
ORDER BY s.domain
