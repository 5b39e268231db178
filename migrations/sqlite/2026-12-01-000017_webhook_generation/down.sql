DROP TRIGGER webhook_changed;
DROP TRIGGER webhook_deleted;
DROP TRIGGER webhook_created;
DROP TABLE webhook_generation;
