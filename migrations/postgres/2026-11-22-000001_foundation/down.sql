DROP TABLE pin_checks;
DROP TABLE refresh_tokens;
DROP TABLE accounts;
