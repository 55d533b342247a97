-- The shop's orders database (PostgreSQL). psql -h 127.0.0.1 -U postgres test -f seed-postgres.sql
DROP TABLE IF EXISTS shop_orders;
CREATE TABLE shop_orders (
    id          bigint PRIMARY KEY,
    customer_id bigint,
    sku         text NOT NULL,
    quantity    integer NOT NULL,
    amount      numeric(12,2),
    currency    char(3) NOT NULL,
    status      text NOT NULL,
    region      text NOT NULL,
    ordered_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
INSERT INTO shop_orders VALUES
 (1,  1, 'SKU-1', 1, 19.99,  'EUR', 'paid',    'EU',   '2026-11-24 09:15:00+00', '2026-11-24 09:16:00+00'),
 (2,  2, 'SKU-2', 2, 50.00,  'USD', 'paid',    'US',   '2026-11-24 10:30:00+00', '2026-11-24 10:31:00+00'),
 (3,  1, 'SKU-3', 1, 5.00,   'GBP', 'paid',    'EU',   '2026-11-24 11:00:00+00', '2026-11-24 11:01:00+00'),
 (4,  3, 'SKU-1', 3, 59.97,  'EUR', 'shipped', 'EU',   '2026-11-24 13:45:00+00', '2026-11-24 13:46:00+00'),
 (5,  4, 'SKU-2', 1, 25.00,  'USD', 'paid',    'US',   '2026-11-24 15:20:00+00', '2026-11-24 15:21:00+00'),
 (6,  2, 'SKU-1', 1, 19.99,  'EUR', 'test',    'EU',   '2026-11-24 16:00:00+00', '2026-11-24 16:01:00+00'),
 (7,  5, 'SKU-3', 2, NULL,   'EUR', 'paid',    'APAC', '2026-11-24 17:00:00+00', '2026-11-24 17:01:00+00'),
 (8,  3, 'SKU-2', 1, 10.00,  'JPY', 'paid',    'APAC', '2026-11-24 17:30:00+00', '2026-11-24 17:31:00+00'),
 (9,  5, 'SKU-9', 1, 12.50,  'EUR', 'paid',    'APAC', '2026-11-24 18:05:00+00', '2026-11-24 18:06:00+00'),
 (10, 1, 'SKU-2', 4, 100.00, 'USD', 'paid',    'EU',   '2026-11-24 21:40:00+00', '2026-11-24 21:41:00+00');
