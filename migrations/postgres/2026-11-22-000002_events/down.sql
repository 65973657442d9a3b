DROP TABLE relay_leases;
DROP TABLE processed_events;
DROP TABLE event_deliveries;
DROP TABLE events;
