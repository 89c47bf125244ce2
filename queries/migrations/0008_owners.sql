-- Owner accounts of the dashboard, and their login sessions. Passwords are stored as argon2id
-- hashes (PHC strings), session tokens as blake3 hashes: the file never holds either secret.
CREATE TABLE owners (
    name          VARCHAR   PRIMARY KEY,
    password_hash VARCHAR   NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP)
);

CREATE TABLE owner_sessions (
    token_hash VARCHAR   PRIMARY KEY,
    owner      VARCHAR   NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
