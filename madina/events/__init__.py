"""Change events: every committed entity change, read at least once by notifications, domain
services and live streams from the store's change log (transactional outbox)."""
