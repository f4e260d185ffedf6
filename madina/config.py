"""Settings, read from `MADINA_*` environment variables (or given in code by tests and the CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from madina.api.rate_limits import parse_limit, parse_networks
from madina.auth.oidc import parse_role_map
from madina.services.open311.mail import SmtpServer, smtp_server
from madina.store.base import Store
from madina.store.engines import store_for
from madina.store.history import Retention


class Settings(BaseSettings):
    """Everything an operator can tune; defaults run a laptop broker with no configuration."""

    model_config = SettingsConfigDict(env_prefix="MADINA_", extra="ignore")

    database: str = "madina.db"
    """SQLite file path (created on first start), or a postgresql:// URL."""
    database_url: str | None = None
    """postgresql://user:pass@host:port/db — selects the PostgreSQL/PostGIS engine (wins over
    `database`)."""
    db_pool_size: int = 10
    """PostgreSQL connections per worker process (and at most that many requests in the
    database at once per worker)."""
    db_timeout: float = 5.0
    """Seconds to wait for a PostgreSQL connection before answering 503."""
    history_retention_days: int | None = None
    """Drop attribute history older than this (PostgreSQL: a month partition at a time; None:
    keep everything), unless `history_retention` has a `*` rule."""
    history_retention: str = ""
    """Per entity type: "AirQualityObserved=90d,TrafficFlowObserved=30d,*=365d" (`*`: every
    other type); checked daily. See madina.store.history.Retention."""
    temporal_max_instances: int = Field(10_000, ge=1)
    """Most instances (or aggregation periods) per attribute in one temporal answer; more are
    paged (206 with Content-Range)."""
    domains: str = "environment,traffic,energy,safety"
    """The city domains whose services derive indices, states and alerts from observations
    (comma-separated; empty: none). One worker process runs them for all."""
    domains_config: str | None = None
    """A TOML file with a `[domains.<name>]` table of settings per domain (docs/domains.md);
    without it every domain runs on its documented defaults."""
    change_log_retention_hours: float = 24.0
    """Entity change events are kept this long for consumers that were away (notifications
    catching up after a restart, live streams resuming from `Last-Event-ID`)."""
    change_poll_interval: float = 0.025
    """Seconds between reads of the change log for changes committed by other worker processes
    (a process's own changes are read at once)."""
    notification_timeout: float = 10.0
    """Seconds a notification attempt may take when the subscription's endpoint sets no
    `timeout`."""
    notification_concurrency: int = 8
    """Notifications in flight per endpoint (HTTP origin or MQTT broker) and worker process."""
    notification_max_attempts: int = 8
    """Attempts before a notification is dropped (the subscription then shows the failure)."""
    notification_retry_base: float = 1.0
    """Seconds before the first retry of a failed notification; doubled for each further one
    (with jitter) up to `notification_retry_max`."""
    notification_retry_max: float = 300.0
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """NORMAL: a 2xx survives any crash of the process; FULL: also a power cut or OS crash,
    at the price of an fsync per write transaction."""
    host: str = "127.0.0.1"
    port: int = 1026
    max_body_bytes: int = 8 * 1024 * 1024
    """Request bodies above this size are refused before they are parsed."""
    default_limit: int = 20
    max_limit: int = 1000
    fetch_remote_contexts: bool = True
    """Off for air-gapped cities: only shipped and pre-loaded contexts resolve."""
    context_fetch_timeout: float = 5.0
    log_level: str = "info"
    log_json: bool = False
    """JSON lines for log shippers; key=value lines for humans otherwise."""
    auth: Literal["on", "off"] = "on"
    """off: open mode for local development and conformance runs, no access control at all;
    `madina serve` refuses it on any address but loopback."""
    public_reads: bool = True
    """Reads of public data (entities, types, attributes, @contexts) open to anonymous callers;
    false: every read needs a credential too. Writes always need one."""
    rate_limit_per_ip: str = "50,100"
    """Anonymous requests per client address: "RATE,BURST" (requests per second, bucket size),
    or "0" for no limit. Per worker process (see madina/api/rate_limits.py)."""
    rate_limit_per_client: str = "200,400"
    """Authenticated requests per principal (tenant and subject), same format."""
    rate_limit_exempt: str = "127.0.0.0/8,::1"
    """Comma-separated addresses/networks never limited (loopback: local tools, benchmarks)."""
    trusted_proxies: str = ""
    """Comma-separated addresses/networks of reverse proxies whose X-Forwarded-For is believed;
    from anyone else the header is ignored."""
    cors_origins: str = ""
    """Comma-separated origins allowed to call the API from a browser ("*" for any); empty: no
    CORS headers at all."""
    admin_token: str | None = None
    """Accepted as an admin bearer token (automation, tests); unset: the first start creates an
    `admin` user with a random password and logs it once."""
    auth_secret: str | None = None
    """HS256 key for access tokens; unset: one is generated once and kept in the database."""
    access_token_ttl: float = 900.0
    """Seconds an access token lives (a revoked one is refused at once anyway)."""
    refresh_token_ttl: float = 30 * 24 * 3600.0
    """Seconds a refresh token lives; each use rotates it."""
    token_issuer: str = "madina"
    """The `iss` of access tokens; tokens of another issuer are refused."""
    hsts: bool = False
    """Send Strict-Transport-Security: only behind TLS, which Madina itself does not terminate."""
    audit_retention_days: int = 365
    """Audit log entries older than this are deleted (checked daily)."""
    metrics_public: bool = True
    """Prometheus `/metrics` open to anyone (its numbers name no tenant, entity or person);
    false: administrators only."""
    oidc_issuer: str | None = None
    """An OpenID Connect provider (e.g. a Keycloak realm URL) whose bearer tokens are accepted
    besides Madina's own; its tokens are told apart by their `iss`."""
    oidc_audience: str | None = None
    """The `aud` the provider's tokens must carry (required with an issuer: without it a token
    the provider issued to any other application would be accepted here)."""
    oidc_jwks_url: str | None = None
    """Where the provider's signing keys are; unset: from `<issuer>/.well-known/
    openid-configuration`."""
    oidc_roles_claim: str = "realm_access.roles"
    """Dotted path of the claim listing the provider's roles (Keycloak's realm roles)."""
    oidc_role_map: str = ""
    """Provider role=Madina role pairs, e.g. "city-admin=admin,city-operator=operator"; roles
    not named here grant nothing."""
    oidc_tenant_claim: str | None = None
    """Claim naming the tenant of the token's user; unset: the default tenant."""
    mqtt_url: str | None = None
    """mqtt://[user:password@]host:port (or mqtts://) of the MQTT broker devices publish to;
    unset: no MQTT (`madina demo` then starts an embedded broker)."""
    mqtt_client_id: str = ""
    """Base of the gateway's MQTT client ids (`<id>-<n>` per worker process); unset:
    madina-<hostname>. Keep it stable: the MQTT broker keeps undelivered messages per id."""
    mqtt_share_group: str = "madina"
    """Shared-subscription group of the workers (each message consumed once); empty: none."""
    mqtt_version: Literal["5", "3.1.1"] = "5"
    """MQTT protocol version; 3.1.1 for brokers without MQTT 5 (then no shared subscription:
    set MADINA_MQTT_SHARE_GROUP empty and run one worker)."""
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    """How long the MQTT broker keeps the gateway's session, and queues its messages, while
    Madina is away."""
    iot_batch_max: int = 1000
    """Most device messages committed in one group commit."""
    iot_batch_wait_ms: float = 5.0
    """How long a group commit waits for more messages when fewer than the maximum came."""
    iot_max_payload_bytes: int = 64 * 1024
    """Device messages larger than this are refused before parsing."""
    public_url: str | None = None
    """Where citizens reach this Madina (https://city.example): links in e-mails, photos'
    media_url; unset: the address each call came to."""
    smtp_url: str | None = None
    """The SMTP server citizens' e-mails go through: smtp://user:password@host:587
    (STARTTLS) or smtps://…:465; or give its parts in smtp_host, smtp_port, smtp_user,
    smtp_password. Unset: e-mails wait in the outbox."""
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    """The sender address of citizens' e-mails (required with an SMTP server)."""
    smtp_starttls: bool = True
    """Upgrade smtp:// connections with STARTTLS (false only for a server on loopback)."""
    open311_media_dir: str | None = None
    """Where photos uploaded with service requests are kept; unset: `<database>-media` next
    to the SQLite file, `madina-media` in the working directory with PostgreSQL (share it
    between hosts)."""
    open311_media_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    """Photos larger than this are refused."""
    open311_duplicate_radius_m: float = Field(250.0, gt=0, le=5000)
    """GET requests with lat/long: the radius searched when none is given (FixMyStreet's
    duplicate suggestions use 250 m)."""
    web_basemap: str | None = None
    """Directory of GeoJSON layers (`*.geojson`, `*.geojson.gz`) the dashboards draw as the
    city's basemap; unset: the demo city's (madina/sim/data)."""
    web_tile_url: str = ""
    """Raster tiles under the basemap, an XYZ URL template such as
    https://tiles.example.org/{z}/{x}/{y}.png (its origin joins the pages' CSP); empty: the
    basemap alone, which works offline."""
    web_tile_attribution: str = ""
    """Attribution the tile provider requires, shown on the map."""
    web_open311_api_key: str = ""
    """The Open311 api_key the citizen portal submits reports with (`madina open311 key add
    "Citizen portal"`); empty: citizens sign in to report."""

    @field_validator("rate_limit_per_ip", "rate_limit_per_client")
    @classmethod
    def _rate_limit_format(cls, value: str) -> str:
        parse_limit(value)  # raises ValueError with the reason
        return value

    @field_validator("rate_limit_exempt", "trusted_proxies")
    @classmethod
    def _networks_format(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map_format(cls, value: str) -> str:
        parse_role_map(value)
        return value

    @field_validator("history_retention")
    @classmethod
    def _retention_format(cls, value: str) -> str:
        Retention.parse(value)
        return value

    @property
    def retention(self) -> Retention:
        """History retention per entity type, `history_retention_days` for the others."""
        return Retention.parse(self.history_retention, self.history_retention_days)

    @model_validator(mode="after")
    def _oidc_audience_required(self) -> Settings:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("MADINA_OIDC_ISSUER needs MADINA_OIDC_AUDIENCE")
        if self.oidc_issuer == self.token_issuer:
            raise ValueError("MADINA_OIDC_ISSUER must differ from MADINA_TOKEN_ISSUER")
        return self

    @model_validator(mode="after")
    def _smtp_usable(self) -> Settings:
        _ = self.smtp_server  # raises MailConfigError (a ValueError) naming the problem
        return self

    @property
    def smtp_server(self) -> SmtpServer | None:
        """The SMTP server citizens' e-mails go through, None when none is set."""
        return smtp_server(self.smtp_url, self.smtp_host, self.smtp_port, self.smtp_user,
                           self.smtp_password, self.smtp_from, self.smtp_starttls)

    @property
    def store_database(self) -> str:
        """What the store opens: the PostgreSQL URL if one is set, else the SQLite path."""
        return self.database_url or self.database

    @property
    def domain_names(self) -> list[str]:
        return [name.strip() for name in self.domains.split(",") if name.strip()]

    def store(self) -> Store:
        """An unopened store for these settings."""
        return store_for(self.store_database, self.sqlite_synchronous, self.db_pool_size,
                         self.db_timeout, self.retention.partition_days)
