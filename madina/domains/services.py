"""Which domain services a city runs, built from its configuration file.

`MADINA_DOMAINS` names the domains to run (all four by default; empty: none) and
`MADINA_DOMAINS_CONFIG` a TOML file with a `[domains.<name>]` table per domain (see
docs/domains.md); a domain without a table runs on its documented defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from madina.domains.energy.service import EnergyService
from madina.domains.energy.settings import EnergySettings
from madina.domains.environment.air_quality_service import AirQualityService
from madina.domains.environment.noise_service import NoiseService
from madina.domains.environment.settings import AirQualitySettings, NoiseSettings
from madina.domains.runtime import DomainService
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.heat_service import HeatService
from madina.domains.safety.issuer import Issuer
from madina.domains.settings_loading import load_toml_table
from madina.domains.traffic.service import TrafficService
from madina.domains.traffic.settings import TrafficSettings

DOMAINS = ("environment", "traffic", "energy", "safety")

Table = Callable[[str], dict[str, Any]]


def _environment(table: Table) -> list[DomainService]:
    return [
        AirQualityService(AirQualitySettings.from_mapping(table("environment.air_quality"))),
        NoiseService(NoiseSettings.from_mapping(table("environment.noise"))),
    ]


def _traffic(table: Table) -> list[DomainService]:
    return [TrafficService(TrafficSettings.from_mapping(table("traffic")))]


def _energy(table: Table) -> list[DomainService]:
    return [EnergyService(EnergySettings.from_mapping(table("energy")))]


def _safety(table: Table) -> list[DomainService]:
    settings = SafetySettings.from_dict(table("safety"))
    issuer = Issuer(settings.warnings)  # one CAP sender and message outbox for both hazards
    return [FloodService(settings, issuer), HeatService(settings, issuer)]


BUILDERS: dict[str, Callable[[Table], list[DomainService]]] = {
    "environment": _environment,
    "traffic": _traffic,
    "energy": _energy,
    "safety": _safety,
}


def domain_services(names: Iterable[str], config: str | Path | None) -> list[DomainService]:
    """The services of the named domains; unknown names and settings fail at start-up."""
    def table(name: str) -> dict[str, Any]:
        return load_toml_table(config, f"domains.{name}") if config else {}

    services: list[DomainService] = []
    for name in names:
        if name not in BUILDERS:
            raise ValueError(f"unknown domain {name!r} (known: {', '.join(DOMAINS)})")
        services.extend(BUILDERS[name](table))
    return services
