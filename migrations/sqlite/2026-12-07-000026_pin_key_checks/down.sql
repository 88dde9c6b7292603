DROP TABLE pin_key_checks;
