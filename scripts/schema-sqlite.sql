-- mmolove grant-sqlite schema (SQLite >= 3.24).
-- Applied by scripts/grant-sqlite on every run; safe to apply by hand:
--   sqlite3 /var/lib/mmolove/points.sqlite < schema-sqlite.sql
-- grants: one row per paid vote; heart_id makes the payout exactly-once.
CREATE TABLE IF NOT EXISTS grants (
    heart_id   TEXT    PRIMARY KEY NOT NULL,
    username   TEXT    NOT NULL,
    reward     INTEGER NOT NULL CHECK (reward >= 0),
    granted_at TEXT    NOT NULL
);
-- points: running balance per player.
CREATE TABLE IF NOT EXISTS points (
    username   TEXT    PRIMARY KEY NOT NULL,
    points     INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_username ON grants (username);
