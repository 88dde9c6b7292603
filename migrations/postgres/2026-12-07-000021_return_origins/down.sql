ALTER TABLE hosted_page_settings DROP COLUMN return_origins;
