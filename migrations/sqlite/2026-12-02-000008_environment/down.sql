DROP TABLE server_environment;
