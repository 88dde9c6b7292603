DROP TABLE fx_rates;
DROP TABLE idempotency_keys;
DROP TABLE outbox_events;
DROP TABLE refunds;
DROP TABLE money_request_events;
DROP TABLE money_requests;
