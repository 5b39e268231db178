-- The trace context of the event that caused a delivery: each attempt is a
-- client span in that trace and sends it as `traceparent`.
ALTER TABLE deliveries ADD COLUMN traceparent TEXT;
