DROP TABLE log_offsets;
DROP TABLE log_lines;
