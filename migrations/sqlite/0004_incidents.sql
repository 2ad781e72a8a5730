-- Incidents, their hash-chained timeline and the notification outbox.
--
-- An incident is kept whole as JSON in doc (liftrescue.Incident without its timeline and
-- notifications); the columns beside it are what lists filter on and what the constraints need.
-- On reading, id, version, created_at and updated_at come from their columns. Times are the
-- registry's fixed-width UTC text, 2006-01-02T15:04:05.000000Z.

-- elevator_id is not a foreign key: an incident keeps a snapshot of its elevator, so that the record
-- stands when the elevator is changed or deleted. AUTOINCREMENT, as everywhere: ids are never reused.
-- state is checked by the store, so that a new state needs no rebuild of the table.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    elevator_id INTEGER NOT NULL,
    district    TEXT NOT NULL,
    state       TEXT NOT NULL,
    tier        INTEGER NOT NULL,
    reported_at TEXT NOT NULL,
    closed_at   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
-- One open incident per elevator: a second report of the same trapping joins the first. The store
-- writes the condition exactly so (sqlq.OpenIncident), which lets SQLite use the partial indexes.
CREATE UNIQUE INDEX incidents_open_elevator ON incidents (elevator_id) WHERE state NOT IN ('closed', 'cancelled');
-- Lists come newest first.
CREATE INDEX incidents_open ON incidents (id DESC) WHERE state NOT IN ('closed', 'cancelled');
CREATE INDEX incidents_state ON incidents (state, id DESC);
CREATE INDEX incidents_district ON incidents (district, id DESC);
CREATE INDEX incidents_elevator ON incidents (elevator_id, id DESC);

-- The timeline of every incident, one hash chain in seq order: each event holds the hash of the one
-- before it (liftrescue.IncidentEvent.ChainHash). seq is given by the store from incident_chain, so
-- it runs 1, 2, 3, ... without gaps; as no event is ever deleted, none is reused. data is the
-- event's JSON byte for byte, as the hash covers it, NULL when there is none.
CREATE TABLE incident_events (
    seq           INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    at            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_name    TEXT NOT NULL,
    state         TEXT NOT NULL,
    tier          INTEGER NOT NULL,
    assignment_id INTEGER NOT NULL,
    text          TEXT NOT NULL,
    data          TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, seq);
-- Append-only: a change or a removal would break every link after it, so the database refuses both.
CREATE TRIGGER incident_events_no_update BEFORE UPDATE ON incident_events BEGIN
    SELECT RAISE(ABORT, 'incident_events is append-only: an event is never changed');
END;
CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events BEGIN
    SELECT RAISE(ABORT, 'incident_events is append-only: an event is never deleted');
END;

-- The head of the chain: the seq and hash of the last event. Every transaction that appends events
-- reads and moves it; SQLite's write lock (the store begins immediate transactions) orders them.
CREATE TABLE incident_chain (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO incident_chain (id, seq, hash) VALUES (1, 0, '');

-- The durable outbox: written in the transaction of the incident change that causes each message,
-- delivered afterwards with retries.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    assignment_id   INTEGER NOT NULL DEFAULT 0,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    receipt         TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
-- The pending messages in the order they are due: the deliverer's query, and the earliest due.
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id, id);

-- Responder links: the SHA-256 of each link's token (kept in the incident's doc too) to its incident,
-- so that a link opened from a text finds its job without a scan. Added with the assignment, never
-- changed.
CREATE TABLE responder_tokens (
    hash        TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id)
);
