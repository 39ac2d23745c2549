-- mmolove grant-mysql: one row per paid vote; the primary key on heart_id
-- makes the payout exactly-once.  InnoDB: it must share the payout's
-- transaction.  heart_id is VARBINARY so that no collation folds two
-- different heart_ids into one.  grant-mysql creates it when it is
-- missing; to create it yourself (then the grant's user needs no CREATE
-- privilege, only SELECT, INSERT and DELETE on it):
--   mariadb yourgame < schema-mysql.sql
CREATE TABLE IF NOT EXISTS mmolove_grants (
    heart_id   VARBINARY(255) NOT NULL PRIMARY KEY,
    username   VARCHAR(255)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    reward     BIGINT         NOT NULL,
    granted_at DATETIME       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
