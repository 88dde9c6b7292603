DROP TABLE link_pushes;
