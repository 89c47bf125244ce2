-- Events per site, for the migration's check.
SELECT site, count(*)::UBIGINT FROM events GROUP BY site ORDER BY site
