DROP TABLE notifications;
DROP TABLE balance_alert_settings;
ALTER TABLE accounts DROP COLUMN alert_armed;
ALTER TABLE accounts DROP COLUMN alert_threshold;
