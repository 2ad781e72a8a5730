-- The position history in runs: a row holds up to 20 fixes of a vehicle, from one batch and one
-- minute, instead of one fix.
--
-- A row costs PostgreSQL much the same whatever it holds: a tuple header, an index entry, its
-- share of the WAL, and the work of forming and inserting them. One row per fix (0002) spent most
-- of an append on that, and capped the history at a few hundred thousand fixes a second on two
-- cores, below what the ingest takes in. A vehicle reports many fixes a second and the pipeline
-- flushes every second or so, so a batch holds several fixes of most vehicles: kept in one row,
-- they share its costs. Measured on appends of 1,000 fixes, 20 of each of 50 vehicles, the
-- server spends about a third of the CPU time per fix that it did (BenchmarkAppendPositions*).
--
-- A row is a fix, as in 0002, with the earlier fixes of its run in arrays beside it:
--   * the columns of 0002 hold the run's newest fix, so that a vehicle's latest position is the
--     last entry of its range of the index, read without opening an array, and a run of one fix
--     (a vehicle that reported once in a batch) is a row like 0002's, its arrays NULL: a batch of
--     1,000 vehicles with one fix each costs what it did;
--   * earlier_* hold the run's other fixes, oldest first, one element per fix at the same index
--     in every array, NULL when there are none. Arrays rather than a packed binary column, which
--     would cost the server less still (measured per fix in runs of 20: about 0.4 µs of its CPU
--     against 0.85 for arrays and 3.5 for a row each): every fix stays readable with SQL (unnest,
--     or the positions view below), and NULL elements keep the unknown measures that aggregates
--     skip.
-- The fixes of a run are of one vehicle, from one AppendPositions (a later batch makes rows of its
-- own, so that an append only inserts: nothing is read, locked or rewritten), at most 20, taken
-- in the same UTC minute as the newest, so never a minute or more before it, and in the arrays
-- oldest first (ties in the order the batch gave them). So the fixes from a time on are in the
-- rows from that time on and those of the minute after it: a track or retention reads a range of
-- the index. Runs from different batches may interleave in time: readers order the fixes, not the
-- rows.
--
-- 20 fixes keep a row (about 2 kB) below the size at which PostgreSQL would try to compress it or
-- move arrays out of line (TOAST), neither of which pays for floats; toast_tuple_target keeps a
-- row a little over it (NULL elements, long alarms) in one piece, uncompressed, too.
--
-- vehicle_id is checked by the store and cascaded by the trigger, as 0002 describes for the
-- table this replaces.

CREATE TABLE position_runs (
    vehicle_id  bigint NOT NULL,             -- vehicles (id), checked by the store; see 0002
    -- The run's newest fix, as in 0002.
    time        timestamptz NOT NULL,        -- when the device took the fix
    received_at timestamptz NOT NULL,        -- when the server accepted it
    lat         double precision NOT NULL,   -- WGS-84
    lon         double precision NOT NULL,
    speed_kmh   double precision,            -- NULL where the device did not say (NaN in a liftrescue.Fix)
    heading     double precision,
    accuracy_m  double precision,
    altitude_m  double precision,
    battery     double precision,
    flags       bigint NOT NULL,             -- the uint64 status bits as their int64 bit pattern
    alarm       text NOT NULL,               -- '' for none
    -- The run's earlier fixes, oldest first, in the same minute as time; NULL when there are none.
    earlier_time        timestamptz[],
    earlier_received_at timestamptz[],
    earlier_lat         double precision[],
    earlier_lon         double precision[],
    earlier_speed_kmh   double precision[], -- with NULL elements as above
    earlier_heading     double precision[],
    earlier_accuracy_m  double precision[],
    earlier_altitude_m  double precision[],
    earlier_battery     double precision[],
    earlier_flags       bigint[],
    earlier_alarm       text[]
) WITH (toast_tuple_target = 8160);
-- Serves a track (a vehicle's rows from a time on, in order), the latest position of each vehicle
-- (the last entry of the vehicle's range), retention (one range per vehicle) and the cascade.
CREATE INDEX position_runs_vehicle_time ON position_runs (vehicle_id, time);

-- Batches of instances still running the previous version wait here, and then fail, rather than
-- commit rows that the copy below would not see and the DROP would lose; the pipeline keeps and
-- retries them.
LOCK TABLE positions IN ACCESS EXCLUSIVE MODE;

-- The fixes already kept, cut into runs as the store cuts a batch: by vehicle and minute (whole
-- minutes since 1970, rounded down, as the store computes them), at most 20 to a run, in order of
-- time. k numbers the fixes of a vehicle's minute, so that every array takes its elements in the
-- same order even where times tie; the last element of each is the newest fix.
INSERT INTO position_runs
SELECT vehicle_id, t[n], r[n], la[n], lo[n], s[n], h[n], ac[n], al[n], b[n], f[n], a[n],
    CASE WHEN n > 1 THEN t[:n - 1] END, CASE WHEN n > 1 THEN r[:n - 1] END,
    CASE WHEN n > 1 THEN la[:n - 1] END, CASE WHEN n > 1 THEN lo[:n - 1] END,
    CASE WHEN n > 1 THEN s[:n - 1] END, CASE WHEN n > 1 THEN h[:n - 1] END,
    CASE WHEN n > 1 THEN ac[:n - 1] END, CASE WHEN n > 1 THEN al[:n - 1] END,
    CASE WHEN n > 1 THEN b[:n - 1] END, CASE WHEN n > 1 THEN f[:n - 1] END,
    CASE WHEN n > 1 THEN a[:n - 1] END
FROM (
    SELECT vehicle_id, count(*) AS n, array_agg(time ORDER BY k) AS t, array_agg(received_at ORDER BY k) AS r,
        array_agg(lat ORDER BY k) AS la, array_agg(lon ORDER BY k) AS lo, array_agg(speed_kmh ORDER BY k) AS s,
        array_agg(heading ORDER BY k) AS h, array_agg(accuracy_m ORDER BY k) AS ac,
        array_agg(altitude_m ORDER BY k) AS al, array_agg(battery ORDER BY k) AS b,
        array_agg(flags ORDER BY k) AS f, array_agg(alarm ORDER BY k) AS a
    FROM (
        SELECT p.*, row_number() OVER (PARTITION BY vehicle_id, minute ORDER BY time) - 1 AS k
        FROM (SELECT *, floor(extract(epoch FROM time) / 60) AS minute FROM positions) p
    ) p
    GROUP BY vehicle_id, minute, k / 20
) runs;

DROP TABLE positions;

-- The history one row per fix, as 0002 kept it, for reading with SQL: queries and reports written
-- for the table keep working. It unnests every row of the vehicles asked for; for a time range of
-- a long history, query position_runs with time >= the start and time < the end plus a minute, a
-- range of the index, and unnest the rows as below.
CREATE VIEW positions AS
SELECT r.vehicle_id, u.time, u.received_at, u.lat, u.lon, u.speed_kmh, u.heading, u.accuracy_m,
    u.altitude_m, u.battery, u.flags, u.alarm
FROM position_runs r
CROSS JOIN LATERAL unnest(r.earlier_time || r.time, r.earlier_received_at || r.received_at,
    r.earlier_lat || r.lat, r.earlier_lon || r.lon, r.earlier_speed_kmh || r.speed_kmh,
    r.earlier_heading || r.heading, r.earlier_accuracy_m || r.accuracy_m,
    r.earlier_altitude_m || r.altitude_m, r.earlier_battery || r.battery, r.earlier_flags || r.flags,
    r.earlier_alarm || r.alarm)
    AS u (time, received_at, lat, lon, speed_kmh, heading, accuracy_m, altitude_m, battery, flags, alarm);

-- The cascade of 0002, now on the runs; the lock and the epoch order it against batches as before.
CREATE OR REPLACE FUNCTION positions_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7811887678939427694); -- positions_lock
    UPDATE vehicle_deletions SET epoch = epoch + 1;
    DELETE FROM position_runs WHERE vehicle_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
