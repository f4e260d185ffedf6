"""The Prometheus metrics of the whole app: every metric object lives here, so a subsystem that
counts something imports its metric from one place and `/metrics` (madina/api/metrics.py) shows
all of them.

With `PROMETHEUS_MULTIPROC_DIR` set (`madina serve --workers N` sets it), prometheus_client keeps
each worker's values in files there and a scrape, answered by whichever worker the connection
lands on, sums them all; the variable must be set before this module is first imported, which is
why the CLI sets it before uvicorn spawns the workers. Without it the values are per process.

Labels stay bounded: requests are labelled by route template ("/ngsi-ld/v1/entities/{entityId}"),
never by raw path, and by status class ("2xx"), never by exact status.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.registry import REGISTRY

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)
"""Seconds; finer than prometheus_client's default at the low end, where most answers are."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

# -- HTTP ---------------------------------------------------------------------------------
REQUESTS = Counter("madina_http_requests", "HTTP requests answered",
                   ["method", "route", "status"])
LATENCY = Histogram("madina_http_request_duration_seconds",
                    "Time from a request's arrival to the end of its answer",
                    ["method", "route"], buckets=LATENCY_BUCKETS)
IN_FLIGHT = Gauge("madina_http_requests_in_flight", "HTTP requests being answered",
                  multiprocess_mode="livesum")
RATE_LIMITED = Counter("madina_http_rate_limited", "Requests refused with 429 Too Many Requests "
                       "(rate limits and sign-in throttling)", ["route"])

# -- database -----------------------------------------------------------------------------
STORE_UNAVAILABLE = Counter("madina_store_unavailable",
                            "Requests answered 503 because the database could not be reached")
POOL_SIZE = Gauge("madina_db_pool_connections", "PostgreSQL connections open in the pools",
                  multiprocess_mode="livesum")
POOL_AVAILABLE = Gauge("madina_db_pool_available", "PostgreSQL pool connections idle",
                       multiprocess_mode="livesum")
POOL_WAITING = Gauge("madina_db_pool_waiting", "Requests waiting for a PostgreSQL connection",
                     multiprocess_mode="livesum")

# -- audit log ----------------------------------------------------------------------------
AUDIT_ENTRIES = Counter("madina_audit_entries_written", "Audit log entries committed")
AUDIT_BATCH = Histogram("madina_audit_batch_size", "Audit entries committed per transaction "
                        "(group commit)", buckets=BATCH_BUCKETS)

# -- IoT gateway (issue 5) ----------------------------------------------------------------
MEASURES_RECEIVED = Counter("madina_iot_measures_received",
                            "Device measures received", ["transport"])
MEASURES_ACCEPTED = Counter("madina_iot_measures_accepted",
                            "Device measures committed to the store", ["transport"])
MEASURES_REJECTED = Counter("madina_iot_measures_rejected",
                            "Device measures refused", ["transport", "reason"])
"""`reason` is one of a fixed set, never free text, so the label stays bounded. A message
refused whole: malformed, too_large, unknown_apikey, unknown_device, unknown_command, invalid
(the broker refused the update), internal. One value refused while the rest of its message
lands: bad_value, unknown_attribute (`explicitAttrs`)."""
INGEST_BATCH = Histogram("madina_iot_ingest_batch_size", "Messages per group commit",
                         buckets=BATCH_BUCKETS)
INGEST_LATENCY = Histogram("madina_iot_ingest_latency_seconds",
                           "Time from a measure's arrival to its commit", buckets=LATENCY_BUCKETS)
COMMANDS = Counter("madina_iot_commands", "Commands sent to devices, and results received",
                   ["transport", "outcome"])
"""`outcome`: sent (published on MQTT), queued (for a device that polls), delivered (a
polling device fetched it), result (the device answered)."""

# -- domain services -----------------------------------------------------------------------
DOMAIN_EVENTS = Counter("madina_domain_events", "Entity changes the domain services reacted to")
DOMAIN_WRITES = Counter("madina_domain_writes",
                        "Entities the domain services wrote (derived attributes, alerts)")
DOMAIN_BACKLOG = Gauge("madina_domain_backlog",
                       "Changes waiting for the domain services (a growing value: they lag)",
                       multiprocess_mode="livesum")

# -- notifications (subscriptions) -----------------------------------------------------------
NOTIFICATIONS_MATCHED = Counter("madina_notifications_matched",
                                "Notifications the changes made, written to the outbox")
NOTIFICATIONS = Counter("madina_notifications", "Notification attempts by outcome", ["outcome"])
"""`outcome`: sent (the endpoint took it), failed (it did not; retried later), circuit (failed
at once: its endpoint's circuit is open), dropped (its last attempt failed)."""
NOTIFICATION_DELIVERY = Histogram("madina_notification_delivery_seconds",
                                  "Time from a notification reaching its endpoint's queue to the "
                                  "endpoint taking it", buckets=LATENCY_BUCKETS)
NOTIFICATIONS_HELD = Gauge("madina_notifications_held",
                           "Notifications queued or in flight in the worker (a growing value: "
                           "endpoints lag)", multiprocess_mode="livesum")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry() -> CollectorRegistry:
    """What a scrape shows: every worker's values summed in multiprocess mode, else this
    process's (with prometheus_client's process and platform metrics)."""
    if multiprocess_dir() is None:
        return REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)
    return summed


def observe_pool(stats: dict[str, int]) -> None:
    """Set the pool gauges from psycopg_pool's `get_stats()`."""
    POOL_SIZE.set(stats.get("pool_size", 0))
    POOL_AVAILABLE.set(stats.get("pool_available", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))
