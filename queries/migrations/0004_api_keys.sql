-- Stats API keys. Only a hash of each key is kept: the key itself is shown once, when it is
-- created. `sites` lists the domains the key may read, comma-separated (domains hold no commas).
CREATE TABLE api_keys (
    id         VARCHAR   PRIMARY KEY,  -- public part, shown by `footfall key list`
    key_hash   VARCHAR   NOT NULL UNIQUE,
    sites      VARCHAR   NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP),
    revoked_at TIMESTAMP
);
