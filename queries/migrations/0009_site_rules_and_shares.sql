-- Rules an owner edits in the dashboard's settings (or on the command line) for a site added
-- there: paths and client networks never recorded, and paths whose public counts are hidden.
-- One pattern per line; the server validates them before they are stored.
ALTER TABLE sites ADD COLUMN exclude_paths VARCHAR NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN exclude_ips VARCHAR NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN counter_exclude VARCHAR NOT NULL DEFAULT '';

-- Shared links: a secret URL that shows one site's dashboard read-only. Only the token's blake3
-- hash is stored, and the optional password as an argon2id hash. Revoked links stay listed.
CREATE TABLE shared_links (
    id            VARCHAR   PRIMARY KEY,
    token_hash    VARCHAR   NOT NULL UNIQUE,
    site          VARCHAR   NOT NULL,
    label         VARCHAR   NOT NULL,
    password_hash VARCHAR,
    created_at    TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP),
    revoked_at    TIMESTAMP
);
