-- Accounts: the people who sign in to the console, their sessions, the API keys of external
-- systems, and the audit log of what all of them did. Times are the registry's fixed-width UTC
-- text, 2006-01-02T15:04:05.000000Z, so that text order is time order.

-- district is not a foreign key: an account may be made before its district is imported, and ''
-- means city-wide. role is checked by the store (liftrescue.Role.Valid), so that a new role needs
-- no rebuild of the table. Users are disabled, never deleted, so that the audit log keeps names.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    district        TEXT NOT NULL DEFAULT '',
    disabled        INTEGER NOT NULL DEFAULT 0,
    password_hash   TEXT NOT NULL, -- PHC string (argon2id)
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_sign_in_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Sessions are known by the SHA-256 of the cookie's token, so that a copy of the database signs
-- nobody in.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
-- Ending every session of a user (disabled, a new password), and sweeping the expired ones.
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Only the SHA-256 of a key is kept; prefix tells keys apart in a list. scopes is a JSON array of
-- permissions. Keys are revoked, never deleted, so that the audit log keeps their names.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    district     TEXT NOT NULL DEFAULT '',
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Who did what, when: every write through the API, every sign-in and every refusal. actor_kind is
-- '' when nobody was signed in; actor_name is kept as it was, so that the log reads the same after
-- the user or key changes.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor_kind TEXT NOT NULL DEFAULT '',
    actor_id   INTEGER NOT NULL DEFAULT 0,
    actor_name TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    remote     TEXT NOT NULL DEFAULT ''
);
-- The log is read newest first, over a time range or one actor's entries.
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_name, id DESC);
-- Append-only: a log that whoever it records could edit would prove nothing, so the database
-- refuses both a change and a removal.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: an entry is never changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: an entry is never deleted');
END;
