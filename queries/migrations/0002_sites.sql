-- Sites added with `footfall site add`. Sites declared in the config file are not copied here:
-- the file stays their single source of truth.
CREATE TABLE sites (
    domain     VARCHAR   PRIMARY KEY,
    timezone   VARCHAR   NOT NULL DEFAULT 'UTC',
    created_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP)
);
