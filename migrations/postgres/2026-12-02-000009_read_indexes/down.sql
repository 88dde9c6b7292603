DROP INDEX postings_account_kind_list;
DROP INDEX postings_account_list;
CREATE INDEX money_requests_payer ON money_requests (payer_id, status);
DROP INDEX money_requests_payer_status_list;
DROP INDEX money_requests_payer_list;
DROP INDEX money_requests_merchant_reference;
DROP INDEX money_requests_merchant_kind;
DROP INDEX money_requests_merchant_status;
