-- A new random number whenever the webhooks change in a way that can change
-- who receives an event: one created or deleted, or its events, apps or
-- disabled_at changed. An event is written only while the generation is the
-- one its recipients were worked out at, so the webhooks need not be read
-- again for every event.
CREATE TABLE webhook_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO webhook_generation (id, generation) VALUES (1, random());

CREATE TRIGGER webhook_created AFTER INSERT ON webhooks
BEGIN
    UPDATE webhook_generation SET generation = random();
END;

CREATE TRIGGER webhook_deleted AFTER DELETE ON webhooks
BEGIN
    UPDATE webhook_generation SET generation = random();
END;

CREATE TRIGGER webhook_changed AFTER UPDATE OF events, apps, disabled_at ON webhooks
BEGIN
    UPDATE webhook_generation SET generation = random();
END;
