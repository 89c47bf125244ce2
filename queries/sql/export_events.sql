-- Every stored event, column for column as ClickHouse's events table takes them (the time in
-- microseconds, the props map as its keys and values), for `footfall migrate`. Unordered: the
-- migration splits them by visit, and ClickHouse sorts each part itself.
SELECT site, epoch_us(ts), name, hostname, path, visitor_id, session_id, interactive,
       referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, click_id,
       country, region, city, browser, browser_version, os, os_version, device,
       map_keys(props), map_values(props), engaged_ms, scroll_depth
FROM events
