-- The shop's customer database (MySQL / MariaDB). mariadb -h 127.0.0.1 -u root test < seed-mariadb.sql
DROP TABLE IF EXISTS shop_customers;
CREATE TABLE shop_customers (
    id         BIGINT PRIMARY KEY,
    email      VARCHAR(200) NOT NULL,
    gender     CHAR(1),
    birth_date DATE,
    country    CHAR(2),
    updated_at DATETIME(3) NOT NULL
);
INSERT INTO shop_customers VALUES
 (1, ' Alice@Example.com ', 'F', '1990-05-01', 'DE', '2026-11-01 08:00:00'),
 (2, 'bob@example.com',     'M', '1985-12-31', 'US', '2026-11-02 08:00:00'),
 (3, 'carol@example.com',   'F', '2000-11-25', 'FR', '2026-11-03 08:00:00'),
 (4, 'dan@example.com',     'X', '1979-01-15', 'US', '2026-11-04 08:00:00'),
 (5, 'eve@example.com',     'F', '1995-07-04', 'SG', '2026-11-05 08:00:00');
