"""SQLite schema migrations, applied in order and recorded in `PRAGMA user_version`.

Never edit a released step: append a new one. A database newer than this code is refused, so an
old binary cannot silently corrupt a newer layout.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: entities as JSON documents with id/type/geo indexes, tenants, the @context cache.
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    CREATE TABLE entities (
        pk INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        UNIQUE (tenant, id)
    );
    CREATE TABLE entity_types (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        entity_pk INTEGER NOT NULL,
        PRIMARY KEY (tenant, type, entity_pk)
    ) WITHOUT ROWID;
    CREATE INDEX entity_types_by_entity ON entity_types (entity_pk);
    -- A shape's id is (entity pk << 20) | slot: the R*Tree alone yields entity pks, and one
    -- entity's shapes are a rowid range (no index on entity_pk to maintain).
    CREATE TABLE geo_shapes (
        id INTEGER PRIMARY KEY,
        entity_pk INTEGER NOT NULL,
        attr TEXT NOT NULL,
        geometry TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE geo_index USING rtree (id, min_lon, max_lon, min_lat, max_lat);
    CREATE TABLE jsonld_contexts (
        id TEXT PRIMARY KEY,
        entry TEXT NOT NULL
    );
    """,
    # 2: attribute names interned, and the scalar value index that `q` prefilters read.
    """
    CREATE TABLE attr_names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    -- id = (entity pk << 20) | n, so one entity's rows are a rowid range, as for geo_shapes.
    CREATE TABLE attr_values (
        id INTEGER PRIMARY KEY,
        entity_pk INTEGER NOT NULL,
        attr INTEGER NOT NULL,
        num REAL,
        txt TEXT,
        opaque INTEGER NOT NULL DEFAULT 0,
        ref INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attr_values_num ON attr_values (attr, num, entity_pk) WHERE num IS NOT NULL;
    CREATE INDEX attr_values_txt ON attr_values (attr, txt, entity_pk) WHERE txt IS NOT NULL;
    CREATE INDEX attr_values_opaque ON attr_values (attr, entity_pk) WHERE opaque = 1;
    """,
    # 3: identities and sign-in state (madina.store.identities): users, API keys, refresh
    # tokens, revoked access tokens, failed-login counters, the token signing secret.
    """
    CREATE TABLE auth_users (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        departments TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, name)
    );
    CREATE TABLE auth_api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        roles TEXT NOT NULL,
        entity_ids TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE auth_refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family TEXT NOT NULL,
        subject TEXT NOT NULL,
        tenant TEXT NOT NULL,
        via TEXT NOT NULL,
        expires_at REAL NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family);
    CREATE INDEX auth_refresh_tokens_subject ON auth_refresh_tokens (tenant, subject);
    CREATE TABLE auth_revoked_access (
        jti TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    );
    CREATE TABLE auth_login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure REAL NOT NULL
    );
    CREATE TABLE auth_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 4: the audit log (madina.store.audit): writes, refused writes, personal-data reads.
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        tenant TEXT NOT NULL,
        subject TEXT NOT NULL,
        subject_tenant TEXT NOT NULL,
        via TEXT NOT NULL,
        roles TEXT NOT NULL,
        action TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        entity_ids TEXT NOT NULL,
        status INTEGER,
        detail TEXT NOT NULL,
        client TEXT NOT NULL,
        request_id TEXT NOT NULL
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE INDEX audit_log_tenant ON audit_log (tenant, at);
    """,
    # 5: attribute history (madina.context.changes writes it with every change) and the change
    # log that notifications, domain services and live streams consume (madina.events).
    # Timestamps are canonical UTC strings: string order is time order.
    """
    CREATE TABLE attribute_instances (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        attr TEXT NOT NULL,
        dataset_id TEXT NOT NULL DEFAULT '',
        instance TEXT,
        observed_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attribute_instances_lookup
        ON attribute_instances (tenant, entity_id, attr, observed_at);
    CREATE INDEX attribute_instances_by_time ON attribute_instances (observed_at);
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX changes_at ON changes (at);
    """,
    # 6: the IoT gateway's provisioning (madina.store.iot): service groups, devices, commands
    # waiting for devices that poll, and the revision number worker caches watch.
    """
    CREATE TABLE iot_groups (
        apikey TEXT NOT NULL,
        resource TEXT NOT NULL,
        tenant TEXT NOT NULL,
        service_path TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (apikey, resource)
    );
    CREATE INDEX iot_groups_scope ON iot_groups (tenant, service_path);
    CREATE TABLE iot_devices (
        apikey TEXT NOT NULL,
        device_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        service_path TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (apikey, device_id)
    );
    CREATE INDEX iot_devices_scope ON iot_devices (tenant, service_path, device_id);
    CREATE TABLE iot_commands (
        apikey TEXT NOT NULL,
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (apikey, device_id, name)
    );
    CREATE TABLE iot_revision (revision INTEGER NOT NULL);
    INSERT INTO iot_revision (revision) VALUES (0);
    """,
    # 7: Open311 GeoReport v2 (madina.store.open311): the catalogue per tenant, submitting apps'
    # keys, service requests (public side), their reporters (personal data) and status history.
    """
    CREATE TABLE open311_jurisdictions (
        tenant TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE TABLE open311_groups (
        tenant TEXT NOT NULL,
        code TEXT NOT NULL,
        position INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tenant, code)
    );
    CREATE TABLE open311_services (
        tenant TEXT NOT NULL,
        code TEXT NOT NULL,
        position INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tenant, code)
    );
    CREATE TABLE open311_departments (
        tenant TEXT NOT NULL,
        code TEXT NOT NULL,
        position INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tenant, code)
    );
    CREATE TABLE open311_service_areas (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        department TEXT NOT NULL,
        service_code TEXT NOT NULL,
        geometry TEXT NOT NULL,
        min_lon REAL NOT NULL,
        min_lat REAL NOT NULL,
        max_lon REAL NOT NULL,
        max_lat REAL NOT NULL
    );
    CREATE INDEX open311_service_areas_service ON open311_service_areas (tenant, service_code);
    CREATE TABLE open311_app_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    -- AUTOINCREMENT: a request's number (its service_request_id) is never given out twice.
    CREATE TABLE open311_requests (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        token TEXT NOT NULL,
        service_code TEXT NOT NULL,
        service_name TEXT NOT NULL,
        department TEXT,
        agency_responsible TEXT,
        status TEXT NOT NULL,
        status_notes TEXT,
        description TEXT,
        lat REAL,
        long REAL,
        address TEXT,
        address_id TEXT,
        zipcode TEXT,
        media_url TEXT,
        attributes TEXT NOT NULL,
        service_notice TEXT,
        requested_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expected_at TEXT,
        UNIQUE (tenant, token)
    );
    CREATE INDEX open311_requests_time ON open311_requests (tenant, requested_at);
    CREATE INDEX open311_requests_service ON open311_requests (tenant, service_code, requested_at);
    CREATE INDEX open311_requests_status ON open311_requests (tenant, status, requested_at);
    CREATE TABLE open311_reporters (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        request_pk INTEGER NOT NULL,
        role TEXT NOT NULL,
        email TEXT,
        first_name TEXT,
        last_name TEXT,
        phone TEXT,
        device_id TEXT,
        account_id TEXT,
        subject TEXT,
        app_key TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX open311_reporters_request ON open311_reporters (tenant, request_pk);
    CREATE INDEX open311_reporters_email ON open311_reporters (tenant, email);
    CREATE TABLE open311_status_history (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        request_pk INTEGER NOT NULL,
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        note TEXT,
        author TEXT
    );
    CREATE INDEX open311_status_history_request ON open311_status_history (tenant, request_pk, at);
    """,
    # 8: subscriptions and their notifications (madina.store.subscriptions): the documents with
    # their delivery counters, the revision worker caches watch, the outbox of notifications
    # to send, and the change-log cursors of durable consumers (the notifier's).
    """
    CREATE TABLE subscriptions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        times_sent INTEGER NOT NULL DEFAULT 0,
        times_failed INTEGER NOT NULL DEFAULT 0,
        last_notification TEXT,
        last_success TEXT,
        last_failure TEXT,
        delivery_status TEXT,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX subscriptions_created ON subscriptions (tenant, created_at, id);
    CREATE TABLE subscription_revision (revision INTEGER NOT NULL);
    INSERT INTO subscription_revision (revision) VALUES (0);
    CREATE TABLE notification_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        subscription_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        request TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        claimed_by TEXT,
        claimed_until REAL
    );
    CREATE INDEX notification_outbox_due ON notification_outbox (due);
    CREATE INDEX notification_outbox_subscription
        ON notification_outbox (tenant, subscription_id);
    CREATE INDEX notification_outbox_claimer ON notification_outbox (claimed_by);
    CREATE TABLE event_cursors (
        consumer TEXT PRIMARY KEY,
        cursor TEXT NOT NULL
    );
    """,
    # 9: the CAP messages each tenant published (madina.store.cap_messages): the XML as issued,
    # when it was sent and expires, what it references, and whether a later message superseded
    # it; the public feed reads the current ones newest first.
    """
    CREATE TABLE cap_messages (
        tenant TEXT NOT NULL,
        identifier TEXT NOT NULL,
        sent TEXT NOT NULL,
        msg_type TEXT NOT NULL,
        refs TEXT NOT NULL,
        expires TEXT,
        xml TEXT NOT NULL,
        superseded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, identifier)
    );
    CREATE INDEX cap_messages_current ON cap_messages (tenant, superseded, sent);
    """,
    # 10: the temporal API's reads (madina.store.history_sqlite): `num`, an instance's value
    # when it is a number, computed from the JSON and kept only in the index, which also holds
    # the dataset and deletion flag, so aggregating a series' numbers reads the index alone.
    # It replaces the lookup index of step 5, of which it is an extension.
    """
    ALTER TABLE attribute_instances ADD COLUMN num REAL GENERATED ALWAYS AS (
        CASE WHEN json_type(instance, '$.value') IN ('integer', 'real')
        THEN json_extract(instance, '$.value') END
    ) VIRTUAL;
    CREATE INDEX attribute_instances_series
        ON attribute_instances (tenant, entity_id, attr, observed_at, dataset_id, deleted, num);
    DROP INDEX attribute_instances_lookup;
    """,
    # 11: Open311 workflow, duplicates, e-mail and area alerts (madina.store.open311*): a
    # request's workflow state (`status` stays GeoReport's open|closed), closing reason, public
    # name (NULL: anonymous) and the request it duplicates; the reason in the history, which
    # servicerequestupdates reads by time; the outbox of e-mails to send; area alerts.
    """
    ALTER TABLE open311_requests ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
    UPDATE open311_requests SET state = status;
    ALTER TABLE open311_requests ADD COLUMN reason TEXT;
    ALTER TABLE open311_requests ADD COLUMN reported_by TEXT;
    ALTER TABLE open311_requests ADD COLUMN duplicate_of INTEGER;
    CREATE INDEX open311_requests_place ON open311_requests (tenant, lat, long);
    ALTER TABLE open311_status_history ADD COLUMN reason TEXT;
    CREATE INDEX open311_status_history_time ON open311_status_history (tenant, at);
    CREATE TABLE open311_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        claimed_by TEXT,
        claimed_until REAL,
        last_error TEXT,
        failed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX open311_outbox_due ON open311_outbox (failed, due);
    CREATE INDEX open311_outbox_recipient ON open311_outbox (tenant, recipient);
    CREATE TABLE open311_alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        email TEXT NOT NULL,
        area TEXT NOT NULL,
        min_lon REAL NOT NULL,
        min_lat REAL NOT NULL,
        max_lon REAL NOT NULL,
        max_lat REAL NOT NULL,
        service_codes TEXT,
        confirm_hash TEXT NOT NULL UNIQUE,
        unsubscribe_token TEXT NOT NULL UNIQUE,
        confirmed_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX open311_alerts_box ON open311_alerts (tenant, min_lon, max_lon);
    CREATE INDEX open311_alerts_email ON open311_alerts (tenant, email);
    """,
    # 12: Open311 listings by service and status, the usual filter pair of GET requests and of
    # the duplicate search near a point: one index each answers them without reading a row
    # that does not match (the single-column indexes read every row of the other value).
    """
    CREATE INDEX open311_requests_service_status
        ON open311_requests (tenant, service_code, status, requested_at);
    CREATE INDEX open311_requests_service_place
        ON open311_requests (tenant, service_code, status, lat, long);
    """,
    # 13: each change's entity types beside its payload (JSON array text): the change feed,
    # the notifier and the domain services choose changes by type, and most changes concern
    # none of them, so reading them need not decode every payload (NULL in older rows).
    """
    ALTER TABLE changes ADD COLUMN types TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer Madina; refuse rather than misread it."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before.

    Each step reads the version inside its own write transaction, so worker processes
    starting together apply every step exactly once."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"database schema version {version} is newer than this Madina "
                    f"({SCHEMA_VERSION}); upgrade Madina"
                )
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return found
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a migration script; executescript() would commit on its own and break atomicity."""
    return [s.strip() for s in script.split(";") if s.strip()]
