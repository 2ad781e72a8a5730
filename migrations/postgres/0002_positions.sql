-- The position history of rescue vehicles: every fix the ingest pipeline accepted, written in
-- batches with COPY.
--
-- vehicle_id is not a declared foreign key, unlike SQLite's: PostgreSQL checks a foreign key with
-- a trigger and a row lock on the vehicle for every inserted row, which costs more than the insert
-- and its index together (about 2.8 µs a row against 2 µs) and would cap the history far below the
-- ingest's target. The store checks the vehicles of each batch in the batch's transaction
-- instead, once per vehicle (and remembers them until a vehicle is deleted), and the trigger
-- below deletes a vehicle's history with it, as ON DELETE CASCADE would. The two meet on one
-- advisory lock (positions_lock, whose key is "liftposn" in ASCII): every batch holds it shared
-- from before its check to its commit, and a delete of vehicles takes it exclusively, so a batch
-- either sees the vehicle gone or commits before the vehicle's history is deleted.
--
-- Columns of 8 bytes first and the text last, so that no row carries alignment padding.
-- No primary key: nothing refers to a single position, and a key would cost every insert a second
-- unique index. No index on time alone either: retention deletes one range of
-- positions_vehicle_time per vehicle.

CREATE TABLE positions (
    vehicle_id  bigint NOT NULL, -- vehicles (id), checked by the store; see above
    time        timestamptz NOT NULL, -- when the device took the fix
    received_at timestamptz NOT NULL, -- when the server accepted it
    lat         double precision NOT NULL, -- WGS-84
    lon         double precision NOT NULL,
    -- NULL where the device did not say (NaN in a liftrescue.Fix), so that aggregates skip them.
    speed_kmh   double precision,
    heading     double precision,
    accuracy_m  double precision,
    altitude_m  double precision,
    battery     double precision,
    flags       bigint NOT NULL DEFAULT 0, -- the uint64 status bits as their int64 bit pattern
    alarm       text NOT NULL DEFAULT ''   -- '' for none
);
-- Serves a track (one vehicle, a time range, in order), the latest position of each vehicle,
-- retention (one range per vehicle) and the cascade.
CREATE INDEX positions_vehicle_time ON positions (vehicle_id, time);

-- Counts the deletes of vehicles, so that a store which has seen a vehicle exist knows whether
-- it still may: read under positions_lock, no delete can change it before the batch commits.
CREATE TABLE vehicle_deletions (epoch bigint NOT NULL);
INSERT INTO vehicle_deletions VALUES (0);

-- A vehicle's history goes with the vehicle: retention is the policy for old history, and a
-- vehicle removed from the registry (sold, entered by mistake) leaves no positions behind that
-- name no vehicle. Waiting for the exclusive lock lets the batches in flight commit first; each
-- statement of a PL/pgSQL function sees what they committed.
CREATE FUNCTION positions_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7811887678939427694); -- positions_lock
    UPDATE vehicle_deletions SET epoch = epoch + 1;
    DELETE FROM positions WHERE vehicle_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER vehicles_positions_cascade AFTER DELETE ON vehicles
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION positions_cascade();
