DROP TRIGGER webhooks_changed ON webhooks;
DROP FUNCTION new_webhook_generation();
DROP TABLE webhook_generation;
