-- A hosted page sends the browser back only to origins the merchant registered (space
-- separated, like frame_ancestors): otherwise PinPay's domain would be an open redirect.
ALTER TABLE hosted_page_settings ADD COLUMN return_origins TEXT NOT NULL DEFAULT '';
