ALTER TABLE apps DROP COLUMN deleted_at;
