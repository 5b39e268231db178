DROP TABLE log_lines;
