DROP TABLE reload_orders;
DROP TABLE auto_reload_settings;
ALTER TABLE accounts DROP COLUMN reload_threshold;
