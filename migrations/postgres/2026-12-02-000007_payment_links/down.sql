DROP TABLE link_sends;
DROP TABLE hosted_page_settings;
DROP INDEX money_requests_payer_changes;
ALTER TABLE money_requests DROP COLUMN return_url;
ALTER TABLE money_requests DROP COLUMN kind;
