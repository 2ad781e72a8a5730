-- The position history of rescue vehicles: every fix the ingest pipeline accepted.
--
-- Times here are INTEGER microseconds since 1970-01-01 UTC, unlike the fixed-width text of the
-- registry's tables: the ingest writes hundreds of thousands of rows a second and a track reads
-- up to 100,000 at once, and an integer is bound, compared and read back without formatting or
-- parsing, in 8 bytes of row and index instead of 27. Both time columns use it.
--
-- A plain rowid table with an index, not WITHOUT ROWID: a primary key of (vehicle_id, time) would
-- either drop distinct fixes that share a device time or need a tie-breaker column, and fixes of
-- many vehicles arrive interleaved, so a table clustered by vehicle would take each batch all over
-- its b-tree, where a rowid table appends at its end.
--
-- A vehicle's history goes with the vehicle (ON DELETE CASCADE): retention is the policy for old
-- history, and a vehicle removed from the registry (sold, entered by mistake) leaves no positions
-- behind that name no vehicle.

CREATE TABLE positions (
    vehicle_id  INTEGER NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    time        INTEGER NOT NULL, -- when the device took the fix, unix microseconds
    received_at INTEGER NOT NULL, -- when the server accepted it, unix microseconds
    lat         REAL NOT NULL,    -- WGS-84
    lon         REAL NOT NULL,
    -- NULL where the device did not say (NaN in a liftrescue.Fix).
    speed_kmh   REAL,
    heading     REAL,
    accuracy_m  REAL,
    altitude_m  REAL,
    battery     REAL,
    alarm       TEXT NOT NULL DEFAULT '', -- '' for none
    flags       INTEGER NOT NULL DEFAULT 0 -- the uint64 status bits as their int64 bit pattern
);
-- Serves a track (one vehicle, a time range, in order), the latest position of each vehicle,
-- retention (one range per vehicle) and the foreign key's cascade.
CREATE INDEX positions_vehicle_time ON positions (vehicle_id, time);
