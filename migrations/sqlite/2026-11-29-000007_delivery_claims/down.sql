DROP INDEX deliveries_claimed;
DROP INDEX deliveries_due_by_webhook;
