DROP INDEX deliveries_pending_by_event;
DROP INDEX deliveries_by_age;
DROP INDEX events_by_age;
