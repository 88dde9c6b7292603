DROP TABLE invoices;
DROP TABLE invoice_sequences;
DROP INDEX reload_orders_pending;
ALTER TABLE reload_orders DROP COLUMN next_submit_at;
ALTER TABLE reload_orders DROP COLUMN submit_attempts;
ALTER TABLE reload_orders DROP COLUMN payment_url;
ALTER TABLE reload_orders DROP COLUMN provider_reference;
