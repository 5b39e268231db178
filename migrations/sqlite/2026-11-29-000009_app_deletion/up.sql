-- Deleting an app first marks it deleted (a tombstone): the app is gone for
-- every reader at once, while workers stop its instances; once none is
-- left a worker removes its rows for good. The name stays taken until then.
ALTER TABLE apps ADD COLUMN deleted_at TIMESTAMP;
