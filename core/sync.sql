-- Sync: Xero pages → stage tables in a scratch database (typed like the mirror) → the mirror, in one
-- transaction, with the scratch database attached as `stage`.
-- Statements are separated by a line "-- name: NAME"; core/sync.py runs them by name.

-- name: create_stage
CREATE OR REPLACE TEMP MACRO xero_moment(s) AS
    epoch_ms(CAST(nullif(regexp_extract(s, '/Date\((-?\d+)', 1), '') AS BIGINT));

-- name: column_types
SELECT column_name, data_type FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
ORDER BY column_index;

-- name: held_organisation
SELECT organisation_id, name FROM organisation LIMIT 1;

-- name: stage_organisation
INSERT INTO organisation BY NAME SELECT * FROM page;

-- name: other_organisation
SELECT held.name, connected.name FROM organisation AS held, stage.organisation AS connected
WHERE held.organisation_id <> connected.organisation_id;

-- name: stage_tracking_categories
INSERT INTO tracking_categories BY NAME SELECT * FROM page;

-- name: stage_tracking_options
INSERT INTO tracking_options BY NAME SELECT * FROM page;

-- name: stage_contacts
INSERT INTO contacts BY NAME
SELECT contact_id, name, status, xero_moment(updated_utc) AS updated_utc FROM page;

-- name: stage_items
INSERT INTO items BY NAME
SELECT item_id, code, name, xero_moment(updated_utc) AS updated_utc FROM page;

-- name: stage_invoices
INSERT INTO invoices BY NAME
SELECT invoice_id, number, contact_id,
       CAST(xero_moment(date) AS DATE) AS date, CAST(xero_moment(due_date) AS DATE) AS due_date,
       status, line_amount_types, currency_code,
       CAST(coalesce(currency_rate, '1') AS DECIMAL(18, 10)) AS currency_rate,
       CAST(sub_total AS DECIMAL(18, 2)) AS sub_total, CAST(total_tax AS DECIMAL(18, 2)) AS total_tax,
       CAST(total AS DECIMAL(18, 2)) AS total, CAST(amount_due AS DECIMAL(18, 2)) AS amount_due,
       CAST(coalesce(amount_paid, '0') AS DECIMAL(18, 2)) AS amount_paid,
       CAST(coalesce(amount_credited, '0') AS DECIMAL(18, 2)) AS amount_credited,
       has_allocations, xero_moment(updated_utc) AS updated_utc,
       type, CAST(remaining_credit AS DECIMAL(18, 2)) AS remaining_credit
FROM page;

-- name: stage_invoice_lines
INSERT INTO invoice_lines BY NAME
SELECT line_id, invoice_id, position, description, item_code, account_code,
       CAST(quantity AS DECIMAL(18, 4)) AS quantity, CAST(unit_amount AS DECIMAL(18, 4)) AS unit_amount,
       CAST(line_amount AS DECIMAL(18, 2)) AS line_amount, tax_type,
       CAST(tax_amount AS DECIMAL(18, 2)) AS tax_amount,
       CAST(discount_rate AS DECIMAL(9, 4)) AS discount_rate,
       CAST(discount_amount AS DECIMAL(18, 2)) AS discount_amount
FROM page;

-- name: stage_line_tracking
INSERT INTO line_tracking BY NAME SELECT * FROM page;

-- name: order_stage_lines
-- Newest invoice first, in the scratch file while the database is free: the merge appends them in this order, and
-- the rules keep the lines' order (core/rules.py INSERT_ALL), so the preview's newest pages read few row groups.
CREATE TABLE ordered_lines AS
SELECT l.* FROM invoice_lines l LEFT JOIN invoices i USING (invoice_id)
ORDER BY i.date DESC NULLS LAST, i.number DESC NULLS LAST, l.invoice_id, l.position;
DROP TABLE invoice_lines;
ALTER TABLE ordered_lines RENAME TO invoice_lines;

-- name: unstage_contacts
DELETE FROM contacts WHERE contact_id IN (SELECT id FROM repeated);

-- name: unstage_invoices
DELETE FROM line_tracking WHERE line_id IN (
    SELECT line_id FROM invoice_lines WHERE invoice_id IN (SELECT id FROM repeated));
DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM repeated);
DELETE FROM invoices WHERE invoice_id IN (SELECT id FROM repeated);

-- The merge, one table at a time. DuckDB deletes and re-inserts of indexed rows are slow
-- (tens of seconds per million), so only what differs is touched: rows gone from Xero within
-- {scope}, rows whose values changed, rows that are new. {table}, {scope}, {key_match},
-- {assignments} and the column lists are filled in from constants in core/sync.py.

-- name: delete_gone
DELETE FROM {table} AS t WHERE ({scope}) AND NOT EXISTS (SELECT 1 FROM stage.{table} AS s WHERE {key_match});

-- name: update_changed
UPDATE {table} AS t SET {assignments} FROM stage.{table} AS s
WHERE {key_match} AND ({t_columns}) IS DISTINCT FROM ({s_columns});

-- name: insert_new
INSERT INTO {table} SELECT s.* FROM stage.{table} AS s
WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {key_match});

-- name: repeated_key
SELECT {keys} FROM {table} GROUP BY ALL HAVING count(*) > 1 LIMIT 1;

-- name: staged_invoices
SELECT (SELECT count(*) FROM stage.invoice_lines), coalesce((SELECT list(invoice_id) FROM stage.invoices), []);

-- name: save_state
INSERT OR REPLACE INTO sync_state (entity, modified_since, synced_at, row_count, api_calls)
VALUES ($entity, $modified_since, $synced_at, $row_count, $api_calls);

-- name: entity_stats
SELECT 'organisation' AS entity, count(*) AS row_count, NULL AS latest FROM organisation
UNION ALL SELECT 'tracking_categories', count(*), NULL FROM tracking_categories
UNION ALL SELECT 'contacts', count(*), max(updated_utc) FROM contacts
UNION ALL SELECT 'items', count(*), max(updated_utc) FROM items
UNION ALL SELECT 'invoices', count(*), max(updated_utc) FROM invoices WHERE type IS DISTINCT FROM 'ACCRECCREDIT'
UNION ALL SELECT 'credit_notes', count(*), max(updated_utc) FROM invoices WHERE type = 'ACCRECCREDIT';

-- name: modified_since
SELECT entity, modified_since FROM sync_state WHERE modified_since IS NOT NULL;

-- name: record_run
INSERT INTO sync_runs (started_at, finished_at, kind, outcome, api_calls, message)
VALUES ($started_at, $finished_at, $kind, $outcome, $api_calls, $message);
