-- Reports read day totals kept as the rows are written (triggers, so every
-- path that writes an order, a return, a ledger entry or a customer counts,
-- sync and imports included), not scans of millions of rows. A day is the
-- chain's local day (loyalty settings' UTC offset when the row was written);
-- `store` is '' for what was done at HQ.
CREATE TABLE report_sales_daily (
    day             TEXT NOT NULL,
    store           TEXT NOT NULL,
    orders          INTEGER NOT NULL DEFAULT 0,
    subtotal        INTEGER NOT NULL DEFAULT 0,
    discount        INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL DEFAULT 0,
    points_redeemed INTEGER NOT NULL DEFAULT 0,
    credit_redeemed INTEGER NOT NULL DEFAULT 0,
    earned          INTEGER NOT NULL DEFAULT 0,
    returns         INTEGER NOT NULL DEFAULT 0,
    returned_net    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store)
) WITHOUT ROWID;

CREATE TABLE report_ledger_daily (
    day     TEXT NOT NULL,
    store   TEXT NOT NULL,
    account TEXT NOT NULL,
    kind    TEXT NOT NULL,
    entries INTEGER NOT NULL DEFAULT 0,
    amount  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store, account, kind)
) WITHOUT ROWID;

CREATE TABLE report_customers_daily (
    day     TEXT NOT NULL,
    store   TEXT NOT NULL,
    created INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store)
) WITHOUT ROWID;

-- Written once a day by the maintenance run (and on demand for today).
CREATE TABLE report_group_sizes (
    day      TEXT NOT NULL,
    group_id TEXT NOT NULL,
    members  INTEGER NOT NULL,
    PRIMARY KEY (day, group_id)
) WITHOUT ROWID;

CREATE VIEW report_offset AS
    SELECT 60 * coalesce((SELECT CAST(json_extract(value, '$.utc_offset_minutes') AS INTEGER)
                          FROM settings WHERE key = 'loyalty'), 0) AS seconds;

CREATE TRIGGER report_orders AFTER INSERT ON orders BEGIN
    INSERT INTO report_sales_daily (day, store, orders, subtotal, discount, total,
                                    points_redeemed, credit_redeemed, earned)
    VALUES (date(NEW.at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
            coalesce(NEW.store, ''), 1, NEW.subtotal, NEW.discount, NEW.total,
            NEW.points_redeemed, NEW.credit_redeemed, NEW.earned)
    ON CONFLICT (day, store) DO UPDATE SET
        orders = orders + 1, subtotal = subtotal + excluded.subtotal,
        discount = discount + excluded.discount, total = total + excluded.total,
        points_redeemed = points_redeemed + excluded.points_redeemed,
        credit_redeemed = credit_redeemed + excluded.credit_redeemed,
        earned = earned + excluded.earned;
END;

CREATE TRIGGER report_returns AFTER INSERT ON returns BEGIN
    INSERT INTO report_sales_daily (day, store, returns, returned_net)
    VALUES (date(NEW.at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
            coalesce((SELECT store FROM orders WHERE seq = NEW.order_seq), ''), 1, NEW.net)
    ON CONFLICT (day, store) DO UPDATE SET
        returns = returns + 1, returned_net = returned_net + excluded.returned_net;
END;

CREATE TRIGGER report_ledger AFTER INSERT ON ledger BEGIN
    INSERT INTO report_ledger_daily (day, store, account, kind, entries, amount)
    VALUES (date(NEW.at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
            coalesce(NEW.store, ''), NEW.account, NEW.kind, 1, NEW.amount)
    ON CONFLICT (day, store, account, kind) DO UPDATE SET
        entries = entries + 1, amount = amount + excluded.amount;
END;

CREATE TRIGGER report_customers AFTER INSERT ON customers BEGIN
    INSERT INTO report_customers_daily (day, store, created)
    VALUES (date(NEW.created_at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
            coalesce(NEW.origin_store, ''), 1)
    ON CONFLICT (day, store) DO UPDATE SET created = created + 1;
END;

-- What was written before these tables.
INSERT INTO report_sales_daily (day, store, orders, subtotal, discount, total,
                                points_redeemed, credit_redeemed, earned)
    SELECT date(at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
           coalesce(store, ''), count(*), sum(subtotal), sum(discount), sum(total),
           sum(points_redeemed), sum(credit_redeemed), sum(earned)
    FROM orders GROUP BY 1, 2;
INSERT INTO report_sales_daily (day, store, returns, returned_net)
    SELECT date(r.at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch') AS d,
           coalesce(o.store, '') AS s, count(*) AS n, sum(r.net) AS net
    FROM returns r JOIN orders o ON o.seq = r.order_seq WHERE true GROUP BY 1, 2
    ON CONFLICT (day, store) DO UPDATE SET
        returns = returns + excluded.returns, returned_net = returned_net + excluded.returned_net;
INSERT INTO report_ledger_daily (day, store, account, kind, entries, amount)
    SELECT date(at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
           coalesce(store, ''), account, kind, count(*), sum(amount)
    FROM ledger GROUP BY 1, 2, 3, 4;
INSERT INTO report_customers_daily (day, store, created)
    SELECT date(created_at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
           coalesce(origin_store, ''), count(*)
    FROM customers GROUP BY 1, 2;

-- Top customers by spend without sorting a million rows, and the customer
-- list by spend: read backwards, highest first, ties newest first, so a
-- page's cursor is one range condition, (total_spent, seq) < (?, ?).
CREATE INDEX customers_by_spent ON customers (total_spent, seq);
