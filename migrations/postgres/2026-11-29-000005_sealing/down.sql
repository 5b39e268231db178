DROP TABLE seal_check;
