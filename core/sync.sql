-- Sync: Xero pages → temporary stage tables (typed like the mirror) → the mirror, in one transaction.
-- Statements are separated by a line "-- name: NAME"; core/sync.py runs them by name.

-- name: create_stage
CREATE OR REPLACE TEMP MACRO xero_moment(s) AS
    epoch_ms(CAST(nullif(regexp_extract(s, '/Date\((-?\d+)', 1), '') AS BIGINT));
CREATE OR REPLACE TEMP TABLE stage_organisation AS FROM organisation LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_tracking_categories AS FROM tracking_categories LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_tracking_options AS FROM tracking_options LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_contacts AS FROM contacts LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_items AS FROM items LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_invoices AS FROM invoices LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_invoice_lines AS FROM invoice_lines LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_line_tracking AS FROM line_tracking LIMIT 0;

-- name: drop_stage
DROP TABLE IF EXISTS stage_organisation;
DROP TABLE IF EXISTS stage_tracking_categories;
DROP TABLE IF EXISTS stage_tracking_options;
DROP TABLE IF EXISTS stage_contacts;
DROP TABLE IF EXISTS stage_items;
DROP TABLE IF EXISTS stage_invoices;
DROP TABLE IF EXISTS stage_invoice_lines;
DROP TABLE IF EXISTS stage_line_tracking;
DROP MACRO IF EXISTS xero_moment;

-- name: stage_organisation
INSERT INTO stage_organisation BY NAME SELECT * FROM page;

-- name: other_organisation
SELECT held.name, connected.name FROM organisation AS held, stage_organisation AS connected
WHERE held.organisation_id <> connected.organisation_id;

-- name: stage_tracking_categories
INSERT INTO stage_tracking_categories BY NAME SELECT * FROM page;

-- name: stage_tracking_options
INSERT INTO stage_tracking_options BY NAME SELECT * FROM page;

-- name: stage_contacts
INSERT INTO stage_contacts BY NAME
SELECT contact_id, name, status, xero_moment(updated_utc) AS updated_utc FROM page;

-- name: stage_items
INSERT INTO stage_items BY NAME
SELECT item_id, code, name, xero_moment(updated_utc) AS updated_utc FROM page;

-- name: stage_invoices
INSERT INTO stage_invoices BY NAME
SELECT invoice_id, number, contact_id,
       CAST(xero_moment(date) AS DATE) AS date, CAST(xero_moment(due_date) AS DATE) AS due_date,
       status, line_amount_types, currency_code,
       CAST(coalesce(currency_rate, '1') AS DECIMAL(18, 10)) AS currency_rate,
       CAST(sub_total AS DECIMAL(18, 2)) AS sub_total, CAST(total_tax AS DECIMAL(18, 2)) AS total_tax,
       CAST(total AS DECIMAL(18, 2)) AS total, CAST(amount_due AS DECIMAL(18, 2)) AS amount_due,
       CAST(coalesce(amount_paid, '0') AS DECIMAL(18, 2)) AS amount_paid,
       CAST(coalesce(amount_credited, '0') AS DECIMAL(18, 2)) AS amount_credited,
       has_allocations, xero_moment(updated_utc) AS updated_utc
FROM page;

-- name: stage_invoice_lines
INSERT INTO stage_invoice_lines BY NAME
SELECT line_id, invoice_id, position, description, item_code, account_code,
       CAST(quantity AS DECIMAL(18, 4)) AS quantity, CAST(unit_amount AS DECIMAL(18, 4)) AS unit_amount,
       CAST(line_amount AS DECIMAL(18, 2)) AS line_amount, tax_type,
       CAST(tax_amount AS DECIMAL(18, 2)) AS tax_amount,
       CAST(discount_rate AS DECIMAL(9, 4)) AS discount_rate,
       CAST(discount_amount AS DECIMAL(18, 2)) AS discount_amount
FROM page;

-- name: stage_line_tracking
INSERT INTO stage_line_tracking BY NAME SELECT * FROM page;

-- name: unstage_contacts
DELETE FROM stage_contacts WHERE contact_id IN (SELECT id FROM repeated);

-- name: unstage_invoices
DELETE FROM stage_line_tracking WHERE line_id IN (
    SELECT line_id FROM stage_invoice_lines WHERE invoice_id IN (SELECT id FROM repeated));
DELETE FROM stage_invoice_lines WHERE invoice_id IN (SELECT id FROM repeated);
DELETE FROM stage_invoices WHERE invoice_id IN (SELECT id FROM repeated);

-- The merge, one table at a time. DuckDB deletes and re-inserts of indexed rows are slow
-- (tens of seconds per million), so only what differs is touched: rows gone from Xero within
-- {scope}, rows whose values changed, rows that are new. {table}, {scope}, {key_match},
-- {assignments} and the column lists are filled in from constants in core/sync.py.

-- name: delete_gone
DELETE FROM {table} AS t WHERE ({scope}) AND NOT EXISTS (SELECT 1 FROM stage_{table} AS s WHERE {key_match});

-- name: update_changed
UPDATE {table} AS t SET {assignments} FROM stage_{table} AS s
WHERE {key_match} AND ({t_columns}) IS DISTINCT FROM ({s_columns});

-- name: insert_new
INSERT INTO {table} SELECT s.* FROM stage_{table} AS s
WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {key_match});

-- name: staged_lines
SELECT line_id FROM stage_invoice_lines;

-- name: save_state
INSERT OR REPLACE INTO sync_state (entity, modified_since, synced_at, row_count, api_calls)
VALUES ($entity, $modified_since, $synced_at, $row_count, $api_calls);

-- name: entity_stats
SELECT 'organisation' AS entity, count(*) AS row_count, NULL AS latest FROM organisation
UNION ALL SELECT 'tracking_categories', count(*), NULL FROM tracking_categories
UNION ALL SELECT 'contacts', count(*), max(updated_utc) FROM contacts
UNION ALL SELECT 'items', count(*), max(updated_utc) FROM items
UNION ALL SELECT 'invoices', count(*), max(updated_utc) FROM invoices;

-- name: modified_since
SELECT entity, modified_since FROM sync_state WHERE modified_since IS NOT NULL;

-- name: record_run
INSERT INTO sync_runs (started_at, finished_at, kind, outcome, api_calls, message)
VALUES ($started_at, $finished_at, $kind, $outcome, $api_calls, $message);
