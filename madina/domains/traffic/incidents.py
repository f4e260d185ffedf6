"""Incident detection on a segment: a sudden break against its own recent history, confirmed
against its downstream neighbour.

Two classic tests are combined, each answering a different false alarm:

1. **Temporal, robust.** The interval is compared with the segment's own last intervals (those
   not under a suspected incident) by the modified z-score of Iglewicz and Hoaglin (1993), see
   `madina.analytics.robust`: occupancy must jump (z ≥ threshold) while speed or flow falls
   (z ≤ −threshold). Each change must also be a step of a minimum size against the median of
   the last `recent_intervals` normal intervals: a very steady history (tiny MAD) then cannot
   turn a wiggle into an alarm, and slowly building recurrent congestion — which drifts far from
   the longer history but never jumps — is not mistaken for an incident, whose queue arrives
   within an interval or two. This is the standard-normal-deviate idea (Dudek, Messer and
   Nuckles, "Incident detection on urban freeways", TRR 495, 1974) with median and MAD in place
   of mean and standard deviation, which the incident itself would drag.
2. **Spatial, California algorithm #7** (H. J. Payne and S. C. Tignor, "Freeway incident-detection
   algorithms based on decision trees with states", TRR 682, 1978), with station i this segment
   and i+1 its configured downstream neighbour, occupancies of the same interval:
   OCCDF = OCC(i) − OCC(i+1) ≥ T1, OCCRDF = OCCDF / OCC(i) ≥ T2, DOCC = OCC(i+1) < T3.
   A queue behind a blockage raises occupancy upstream while the road beyond it runs empty; a
   bottleneck queue or a compression wave that has reached the downstream station (DOCC high)
   is not an incident. Algorithm #7's persistence test is kept: the state must hold for
   `persistence` consecutive intervals before the alarm, and the incident lasts while
   OCCRDF ≥ T2.

Without a configured neighbour (or without its data for the same interval) only the temporal test
decides. An incident clears after `clear_intervals` consecutive intervals in which speed (flow,
when speed is not measured) is back to `recovery_ratio` of the baseline frozen at onset and, with a
neighbour, OCCRDF is below T2.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from madina.analytics.robust import median, median_absolute_deviation, modified_z_score


@dataclass(frozen=True)
class IntervalSample:
    """One observation interval of a segment (all lanes together); None where not measured."""

    end: datetime
    flow_vph: float | None
    occupancy: float | None
    speed_kmh: float | None


@dataclass(frozen=True)
class IncidentRule:
    """Detector thresholds. The California T1-T3 (`occdf`, `occrdf`, `docc`) defaults are
    starting points: calibrate them per site on recorded data with
    `madina.domains.traffic.evaluation`."""

    history_intervals: int = 20
    min_history: int = 8
    recent_intervals: int = 3
    max_history_gap: timedelta = timedelta(minutes=30)
    z_threshold: float = 3.5
    min_speed_drop: float = 0.3
    min_flow_drop: float = 0.3
    min_occupancy_rise: float = 0.05
    occdf: float = 0.10
    occrdf: float = 0.40
    docc: float = 0.20
    persistence: int = 2
    clear_intervals: int = 2
    recovery_ratio: float = 0.8
    speed_mad_floor_kmh: float = 2.0
    occupancy_mad_floor: float = 0.01
    flow_mad_floor_vph: float = 50.0

    def __post_init__(self) -> None:
        if not 1 <= self.recent_intervals <= self.min_history <= self.history_intervals:
            raise ValueError("need 1 <= recent_intervals <= min_history <= history_intervals")
        if self.persistence < 1 or self.clear_intervals < 1:
            raise ValueError("persistence and clear_intervals must be at least 1")
        if not 0 < self.recovery_ratio <= 1:
            raise ValueError("recovery_ratio must be in (0, 1]")


@dataclass(frozen=True)
class Baseline:
    """Medians of the history at onset: what "normal" was on this segment."""

    speed_kmh: float | None
    flow_vph: float | None
    occupancy: float | None


@dataclass(frozen=True)
class IncidentUpdate:
    """What the detector concluded from an interval while an incident is suspected or open."""

    phase: str
    """"raised" (persistence reached), "ongoing" or "cleared"."""
    onset: datetime
    """End of the first interval that looked like an incident."""
    baseline: Baseline
    ratio: float | None
    """Current speed (flow when speed is not measured) over its baseline: how bad it is."""
    spatial: bool
    """Whether the downstream (California #7) test took part."""
    recovered_at: datetime | None = None
    """When cleared: end of the first interval back to normal."""


class IncidentDetector:
    """One segment's detector state: its normal history and the incident in progress, if any."""

    __slots__ = ("_clear_run", "_flows", "_last_end", "_occupancies", "_onset", "_recovered_at",
                 "_run", "_speeds", "baseline", "rule")

    def __init__(self, rule: IncidentRule) -> None:
        self.rule = rule
        self._speeds: deque[float] = deque(maxlen=rule.history_intervals)
        self._flows: deque[float] = deque(maxlen=rule.history_intervals)
        self._occupancies: deque[float] = deque(maxlen=rule.history_intervals)
        self._last_end: datetime | None = None
        self._run = 0
        self._clear_run = 0
        self._onset: datetime | None = None
        self._recovered_at: datetime | None = None
        self.baseline: Baseline | None = None

    @property
    def active(self) -> bool:
        return self.baseline is not None

    def step(
        self, sample: IntervalSample, downstream: IntervalSample | None = None
    ) -> IncidentUpdate | None:
        """Feed one closed interval (and the downstream neighbour's for the same interval)."""
        rule = self.rule
        if (
            self._last_end is not None
            and sample.end - self._last_end > rule.max_history_gap
            and not self.active
        ):
            self._forget()
        spatial = self._spatial(sample, downstream)
        if self.baseline is not None:
            return self._follow(sample, spatial)
        like = self._temporal(sample) and spatial is not False
        if not like:
            self._run = 0
            self._onset = None
            self._remember(sample)
            return None
        self._run += 1
        if self._onset is None:
            self._onset = sample.end
        if self._run < rule.persistence:
            return None
        self.baseline = Baseline(
            speed_kmh=_median_or_none(self._speeds),
            flow_vph=_median_or_none(self._flows),
            occupancy=_median_or_none(self._occupancies),
        )
        self._clear_run = 0
        return IncidentUpdate(
            "raised", self._onset, self.baseline, self._ratio(sample), spatial is not None
        )

    def _follow(self, sample: IntervalSample, spatial: bool | None) -> IncidentUpdate:
        assert self.baseline is not None and self._onset is not None
        ratio = self._ratio(sample)
        recovered = ratio is not None and ratio >= self.rule.recovery_ratio and not spatial
        if recovered:
            self._clear_run += 1
            self._recovered_at = self._recovered_at or sample.end
        else:
            self._clear_run = 0
            self._recovered_at = None
        update = IncidentUpdate("ongoing", self._onset, self.baseline, ratio, spatial is not None)
        if self._clear_run >= self.rule.clear_intervals:
            update = IncidentUpdate("cleared", self._onset, self.baseline, ratio,
                                    spatial is not None, self._recovered_at)
            self.baseline = None
            self._onset = self._recovered_at = None
            self._run = self._clear_run = 0
        return update

    def _ratio(self, sample: IntervalSample) -> float | None:
        base = self.baseline
        assert base is not None
        if sample.speed_kmh is not None and base.speed_kmh:
            return sample.speed_kmh / base.speed_kmh
        if sample.flow_vph is not None and base.flow_vph:
            return sample.flow_vph / base.flow_vph
        return None

    def _temporal(self, sample: IntervalSample) -> bool:
        rule = self.rule
        occupancy_rise = _rises(
            sample.occupancy, self._occupancies, rule, rule.occupancy_mad_floor,
            rule.min_occupancy_rise,
        )
        speed_drop = _drops(sample.speed_kmh, self._speeds, rule, rule.speed_mad_floor_kmh,
                            rule.min_speed_drop)
        flow_drop = _drops(sample.flow_vph, self._flows, rule, rule.flow_mad_floor_vph,
                           rule.min_flow_drop)
        if sample.occupancy is None:
            return speed_drop
        return occupancy_rise and (speed_drop or flow_drop)

    def _spatial(self, sample: IntervalSample, downstream: IntervalSample | None) -> bool | None:
        """California #7's three tests; None when they cannot be applied."""
        if downstream is None or sample.occupancy is None or downstream.occupancy is None:
            return None
        if sample.occupancy <= 0:
            return False
        occdf = sample.occupancy - downstream.occupancy
        occrdf = occdf / sample.occupancy
        rule = self.rule
        if self.active:
            return occrdf >= rule.occrdf
        return occdf >= rule.occdf and occrdf >= rule.occrdf and downstream.occupancy < rule.docc

    def _remember(self, sample: IntervalSample) -> None:
        if sample.speed_kmh is not None:
            self._speeds.append(sample.speed_kmh)
        if sample.flow_vph is not None:
            self._flows.append(sample.flow_vph)
        if sample.occupancy is not None:
            self._occupancies.append(sample.occupancy)
        self._last_end = sample.end

    def _forget(self) -> None:
        self._speeds.clear()
        self._flows.clear()
        self._occupancies.clear()
        self._run = 0
        self._onset = None


def _median_or_none(history: deque[float]) -> float | None:
    return median(history) if history else None


def _score(current: float, history: deque[float], floor: float) -> float:
    center = median(history)
    return modified_z_score(current, center, median_absolute_deviation(history, center), floor)


def _recent(history: deque[float], count: int) -> float:
    """Median of the last `count` normal intervals: where the segment just was."""
    return median([history[-i] for i in range(1, min(count, len(history)) + 1)])


def _drops(
    current: float | None, history: deque[float], rule: IncidentRule, floor: float,
    min_fraction: float,
) -> bool:
    """A fall that is an outlier against the history and a step against the last intervals."""
    if current is None or len(history) < rule.min_history:
        return False
    if current > (1.0 - min_fraction) * _recent(history, rule.recent_intervals):
        return False
    return _score(current, history, floor) <= -rule.z_threshold


def _rises(
    current: float | None, history: deque[float], rule: IncidentRule, floor: float,
    min_rise: float,
) -> bool:
    """A rise that is an outlier against the history and a step against the last intervals."""
    if current is None or len(history) < rule.min_history:
        return False
    if current - _recent(history, rule.recent_intervals) < min_rise:
        return False
    return _score(current, history, floor) >= rule.z_threshold


def severity(ratio: float | None, bands: Sequence[tuple[float, str]]) -> str:
    """Alert severity from how far speed (or flow) fell: the first band whose bound the ratio is
    below, else "low" (Smart Data Models Alert severities: informational … critical)."""
    if ratio is None:
        return "medium"
    for bound, level in bands:
        if ratio < bound:
            return level
    return "low"
