SELECT site, reason, sum(count)::UBIGINT AS count
FROM dropped_events
WHERE day >= ?
GROUP BY site, reason
ORDER BY site, reason
