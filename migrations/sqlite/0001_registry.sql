-- The registry: districts, organisations, elevators, rescue teams and vehicles.
-- Times are UTC text in the fixed-width form 2006-01-02T15:04:05.000000Z so that text order is
-- time order; calendar dates are 2006-01-02.
-- Every id is AUTOINCREMENT so that SQLite never hands out the id of a deleted row again, as
-- PostgreSQL's identity columns never do: incidents and logs refer to elevators, units and vehicles
-- by id, and a reused id would point them at another record.

CREATE TABLE districts (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    rural   INTEGER NOT NULL DEFAULT 0,
    outline TEXT -- GeoJSON MultiPolygon, WGS-84
);

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('user_unit', 'maintenance', 'volunteer', 'fire', 'regulator')),
    name        TEXT NOT NULL,
    district    TEXT NOT NULL REFERENCES districts (code),
    address     TEXT NOT NULL DEFAULT '',
    lat         REAL,
    lon         REAL,
    duty_phones TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    contacts    TEXT NOT NULL DEFAULT '[]', -- JSON array of {name, role, phone}
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Lets elevators hold their units by (id, kind), so the database itself refuses an elevator whose
-- "maintenance company" is a fire station, and an organisation whose kind changes under them.
CREATE UNIQUE INDEX organizations_id_kind ON organizations (id, kind);
CREATE INDEX organizations_kind ON organizations (kind, id);
CREATE INDEX organizations_district ON organizations (district, id);

CREATE TABLE elevators (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    rescue_code            TEXT NOT NULL UNIQUE,
    equipment_code         TEXT NOT NULL UNIQUE,
    address                TEXT NOT NULL,
    building               TEXT NOT NULL DEFAULT '',
    district               TEXT NOT NULL REFERENCES districts (code),
    lat                    REAL NOT NULL,
    lon                    REAL NOT NULL,
    kind                   TEXT NOT NULL CHECK (kind IN ('traction', 'hydraulic', 'positive_drive', 'escalator', 'moving_walk', 'dumbwaiter')),
    floors                 INTEGER NOT NULL DEFAULT 0,
    manufacturer           TEXT NOT NULL DEFAULT '',
    model                  TEXT NOT NULL DEFAULT '',
    installed_on           TEXT,
    user_unit_id           INTEGER NOT NULL,
    user_unit_kind         TEXT NOT NULL DEFAULT 'user_unit' CHECK (user_unit_kind = 'user_unit'),
    maintenance_unit_id    INTEGER NOT NULL,
    maintenance_unit_kind  TEXT NOT NULL DEFAULT 'maintenance' CHECK (maintenance_unit_kind = 'maintenance'),
    last_maintained_at     TEXT,
    inspection_valid_until TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('in_service', 'out_of_service')),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    FOREIGN KEY (user_unit_id, user_unit_kind) REFERENCES organizations (id, kind),
    FOREIGN KEY (maintenance_unit_id, maintenance_unit_kind) REFERENCES organizations (id, kind)
);
CREATE INDEX elevators_district ON elevators (district, id);
-- With id, a unit's elevators come in page order straight from the index.
CREATE INDEX elevators_user_unit ON elevators (user_unit_id, id);
CREATE INDEX elevators_maintenance_unit ON elevators (maintenance_unit_id, id);

-- Spatial index for bbox lists. R*Tree boxes are 32-bit floats rounded outwards, so queries test
-- overlap here and the exact coordinates on the table.
CREATE VIRTUAL TABLE elevators_rtree USING rtree (id, min_lon, max_lon, min_lat, max_lat);
CREATE TRIGGER elevators_rtree_insert AFTER INSERT ON elevators BEGIN
    INSERT INTO elevators_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat);
END;
-- Only a move touches the R*Tree: a re-import rewrites every row's position unchanged.
CREATE TRIGGER elevators_rtree_update AFTER UPDATE OF lat, lon ON elevators
WHEN new.lat IS NOT old.lat OR new.lon IS NOT old.lon BEGIN
    UPDATE elevators_rtree SET min_lon = new.lon, max_lon = new.lon, min_lat = new.lat, max_lat = new.lat
    WHERE id = new.id;
END;
CREATE TRIGGER elevators_rtree_delete AFTER DELETE ON elevators BEGIN
    DELETE FROM elevators_rtree WHERE id = old.id;
END;

CREATE TABLE teams (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    duty_phone      TEXT NOT NULL DEFAULT '',
    certified_staff INTEGER NOT NULL DEFAULT 0,
    on_duty         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX teams_organization ON teams (organization_id, id);

CREATE TABLE vehicles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id    INTEGER NOT NULL REFERENCES teams (id),
    plate      TEXT NOT NULL UNIQUE,
    device_id  TEXT, -- NULL while no tracker is fitted
    on_duty    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX vehicles_device ON vehicles (device_id);
CREATE INDEX vehicles_team ON vehicles (team_id, id);
