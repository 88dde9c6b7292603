DROP TABLE callback_attempts;
DROP TABLE merchant_callbacks;
