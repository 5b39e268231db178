-- A new random number whenever the webhooks change in a way that can change
-- who receives an event: one created or deleted, or its events, apps or
-- disabled_at changed. An event is written only while the generation is the
-- one its recipients were worked out at, so the webhooks need not be read
-- again for every event.
CREATE TABLE webhook_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO webhook_generation (id, generation)
VALUES (1, floor((random() - 0.5) * 1.8e19)::bigint);

CREATE FUNCTION new_webhook_generation() RETURNS trigger AS $$
BEGIN
    UPDATE webhook_generation SET generation = floor((random() - 0.5) * 1.8e19)::bigint;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhooks_changed
AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF events, apps, disabled_at ON webhooks
FOR EACH STATEMENT EXECUTE FUNCTION new_webhook_generation();
