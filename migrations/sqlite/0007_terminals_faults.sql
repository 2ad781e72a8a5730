-- IoT terminals registered on elevators, and the elevators' fault records. Times are the
-- registry's fixed-width UTC text, 2006-01-02T15:04:05.000000Z, so that text order is time order;
-- booleans are 0 and 1.

-- A terminal is known by the id it reports under (printable ASCII, compared byte by byte, as
-- PostgreSQL's COLLATE "C" column is), and goes with its elevator. last_seen is NULL until the
-- terminal is first heard from; it only moves forward. WITHOUT ROWID: every lookup is by the text
-- id, which is then the table's own key rather than a second index.
CREATE TABLE terminals (
    id          TEXT PRIMARY KEY,
    elevator_id INTEGER NOT NULL REFERENCES elevators (id) ON DELETE CASCADE,
    platform    TEXT NOT NULL DEFAULT '',
    model       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_seen   TEXT
) WITHOUT ROWID;
-- An elevator's terminals in list order, and the cascade of a deleted elevator.
CREATE INDEX terminals_elevator ON terminals (elevator_id, id);

-- One row per fault with its repeats counted on it. terminal_id is '' when the report named the
-- elevator; it is not a foreign key, so that a terminal unregistered later leaves its faults in
-- the record. incident_id is NULL for none and not a foreign key either: the record outlives
-- whatever happens to the incident. state is the car's liftrescue.RunningState as JSON, NULL when
-- the report had none. counts says whether the fault counts towards the repeated-fault flag.
CREATE TABLE faults (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    elevator_id INTEGER NOT NULL REFERENCES elevators (id) ON DELETE CASCADE,
    terminal_id TEXT NOT NULL DEFAULT '',
    namespace   TEXT NOT NULL,
    code        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    state       TEXT,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    repeats     INTEGER NOT NULL,
    incident_id INTEGER,
    sender      TEXT NOT NULL DEFAULT '',
    counts      INTEGER NOT NULL
);
-- An elevator's record newest first, page by page (and the cascade of a deleted elevator).
CREATE INDEX faults_elevator ON faults (elevator_id, first_at DESC, id DESC);
-- The counting faults of a period, for the repeated-fault flag. The store writes the condition
-- exactly so (sqlq.CountingFault), which lets SQLite use the partial index, and names the index
-- (INDEXED BY): SQLite would rather read every fault through faults_elevator, in the order of the
-- count's GROUP BY, than the period's alone and sort them.
CREATE INDEX faults_counting ON faults (first_at, elevator_id) WHERE counts;
