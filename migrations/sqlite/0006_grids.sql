-- Rescue grids: the plans that cut the city into grids, the grids, and the volunteer units of each
-- in order of preference. Times are the registry's fixed-width UTC text,
-- 2006-01-02T15:04:05.000000Z, so that text order is time order.

-- A plan is a draft, the one active plan, or retired; only a draft changes. based_on is not a
-- foreign key: it records where a draft started, and that plan (a draft) may be deleted since; ids
-- are never reused, so it never names another plan. published_by is '' until the plan is published.
CREATE TABLE plans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    notes        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'retired')),
    based_on     INTEGER,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    published_by TEXT NOT NULL DEFAULT '',
    published_at TEXT,
    retired_at   TEXT
);
-- At most one plan is active: two publishing at once cannot both leave theirs in force.
CREATE UNIQUE INDEX plans_one_active ON plans (status) WHERE status = 'active';

-- area is the GeoJSON geometry of the grid's MultiPolygon, WGS-84, kept as written. fire_station
-- and the units are not foreign keys: a retired plan keeps naming the organisations it named,
-- even once they are gone, and the store refuses to delete (or change the kind of) an
-- organisation that a draft or the active plan names.
CREATE TABLE grids (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id      INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    district     TEXT NOT NULL REFERENCES districts (code),
    area         TEXT NOT NULL,
    fire_station INTEGER NOT NULL,
    notes        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (plan_id, name)
);
-- What names an organisation, for its delete and its change of kind.
CREATE INDEX grids_fire_station ON grids (fire_station);

-- The volunteer units of a grid, position 0 preferred.
CREATE TABLE grid_units (
    grid_id  INTEGER NOT NULL REFERENCES grids (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    org_id   INTEGER NOT NULL,
    PRIMARY KEY (grid_id, position)
) WITHOUT ROWID;
CREATE INDEX grid_units_org ON grid_units (org_id);
