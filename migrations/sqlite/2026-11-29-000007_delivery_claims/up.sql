-- A claim gives each webhook its share: its due deliveries in order, up to
-- its limit less the deliveries it has claimed right now.
CREATE INDEX deliveries_due_by_webhook ON deliveries (webhook, next_attempt_at, seq)
    WHERE status = 'pending';
CREATE INDEX deliveries_claimed ON deliveries (locked_until) WHERE status = 'pending';
