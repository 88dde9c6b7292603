DROP TABLE app_sessions;
