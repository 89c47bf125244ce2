INSERT INTO dropped_events (day, site, reason, count)
VALUES (?, ?, ?, ?)
ON CONFLICT (day, site, reason) DO UPDATE SET count = count + excluded.count
