"""GPC scopes of a building's energy use, and the emissions of an amount of it.

Global Protocol for Community-Scale Greenhouse Gas Inventories (GPC; WRI, C40 and ICLEI, 2014,
v1.1 2021), stationary energy sector: emissions from fuel burned inside the city boundary (a
building's gas boiler) are **scope 1**; emissions from grid-supplied electricity, heat, steam or
cooling consumed inside the boundary are **scope 2**, whoever generates them. Both count towards
the BASIC inventory level for stationary energy. Transmission losses and fuel supply chains are
scope 3 and are not computed here.
"""

from __future__ import annotations

from collections.abc import Mapping

SCOPE_BY_CARRIER: Mapping[str, int] = {
    "electricity": 2,
    "district_heat": 2,
    "district_cooling": 2,
    "steam": 2,
    "natural_gas": 1,
    "heating_oil": 1,
    "lpg": 1,
    "diesel": 1,
    "biomass": 1,
}
"""Carrier → GPC scope when consumed in a building (grid-supplied: 2; burned on site: 1)."""


def scope(carrier: str) -> int | None:
    """The GPC scope of a carrier, None for one the table does not know."""
    return SCOPE_BY_CARRIER.get(carrier)


def emissions_kg(amount: float, factor_per_unit: float) -> float:
    """kg CO2e of `amount` units at `factor_per_unit` kg CO2e per unit (activity × factor)."""
    if amount < 0 or factor_per_unit < 0:
        raise ValueError("amounts and factors are never negative")
    return amount * factor_per_unit
