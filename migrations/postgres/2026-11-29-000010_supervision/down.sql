DROP TABLE processes;
DROP TABLE supervisors;
