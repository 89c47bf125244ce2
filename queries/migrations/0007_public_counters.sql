-- Public hit counts (/api/counter, badges, charts) are off for a site unless its owner turns
-- them on (`footfall site add DOMAIN --public-counters`, `footfall site counters DOMAIN on`).
ALTER TABLE sites ADD COLUMN public_counters BOOLEAN NOT NULL DEFAULT false;
