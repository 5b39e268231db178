-- Retention: events and deliveries older than the retention period are
-- found by age and deleted in batches; an event one of whose deliveries is
-- still pending is kept, so those are found by event.
CREATE INDEX events_by_age ON events (created_at);
CREATE INDEX deliveries_by_age ON deliveries (created_at) WHERE status <> 'pending';
CREATE INDEX deliveries_pending_by_event ON deliveries (event) WHERE status = 'pending';
