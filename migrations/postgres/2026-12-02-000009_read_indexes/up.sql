-- Indexes that match each list's filter and order (newest first by id), so a page costs
-- the same however many rows an account or the database holds.
CREATE INDEX money_requests_merchant_status ON money_requests (merchant_id, status, id);
CREATE INDEX money_requests_merchant_kind ON money_requests (merchant_id, kind, id);
CREATE INDEX money_requests_merchant_reference ON money_requests (merchant_id, reference, id);
CREATE INDEX money_requests_payer_list ON money_requests (payer_id, id);
CREATE INDEX money_requests_payer_status_list ON money_requests (payer_id, status, id);
DROP INDEX money_requests_payer;
CREATE INDEX postings_account_list ON postings (account_id, id);
CREATE INDEX postings_account_kind_list ON postings (account_id, kind, id);
