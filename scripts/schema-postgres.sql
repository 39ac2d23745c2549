-- mmolove grant-postgres: one row per paid vote; the primary key on
-- heart_id makes the payout exactly-once.  grant-postgres creates it when
-- it is missing; to create it yourself (then the grant's role needs no
-- CREATE privilege, only SELECT and INSERT and DELETE on it):
--   psql -d yourgame -f schema-postgres.sql
CREATE TABLE IF NOT EXISTS mmolove_grants (
    heart_id   text        PRIMARY KEY,
    username   text        NOT NULL,
    reward     bigint      NOT NULL CHECK (reward >= 0),
    granted_at timestamptz NOT NULL DEFAULT now()
);
