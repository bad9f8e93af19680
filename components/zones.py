"""Which Availability Zones a new stack's private subnets go in: by zone ID, where Fargate and the endpoints run.

Zone names map to different physical zones in every account; zone IDs do not. Fargate runs in
only some zones of a few regions (AWS publishes them as a table, kept in data/fargate-zones.json
with its source), and an interface endpoint service is offered in the zones its
`get_vpc_endpoint_service` invoke lists. A zone that lacks either would leave tasks unable to start
or unable to reach an endpoint in their own zone. The first `azCount` eligible zones, in name order,
are chosen; `network.availabilityZones` names them instead. Invokes answer at preview too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi_aws as aws

from settings import SettingsError

FARGATE_ZONES = json.loads((Path(__file__).resolve().parent / "data" / "fargate-zones.json").read_text())


@dataclass(frozen=True)
class Zone:
    """An Availability Zone: its name in this account and its zone ID."""

    name: str
    zone_id: str


def fargate_zone_ids(region: str) -> set[str] | None:
    """The zone IDs of a region where Fargate runs, or None when it runs in all of them."""
    only = FARGATE_ZONES["onlyZoneIds"].get(region)
    return set(only) if only is not None else None


def region_zones() -> list[Zone]:
    """The region's regular zones (Local and Wavelength Zones need opt-in: skipped), in name order."""
    found = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}])
    return [Zone(n, i) for n, i in sorted(zip(found.names, found.zone_ids, strict=True))]


def endpoint_zone_names(service_names: Sequence[str]) -> set[str] | None:
    """The zone names where every one of these interface endpoint services is offered (None: no service)."""
    common: set[str] | None = None
    for service_name in service_names:
        offered = set(aws.ec2.get_vpc_endpoint_service(service_name=service_name,
                                                       service_type="Interface").availability_zones)
        common = offered if common is None else common & offered
    return common


def choose_zones(region: str, count: int, wanted: Sequence[str] | None,
                 interface_services: Sequence[str]) -> tuple[Zone, ...]:
    """`count` eligible zones (or the `wanted` ones, each checked), or one clear error naming the key."""
    zones = region_zones()
    fargate = fargate_zone_ids(region)
    offered = endpoint_zone_names(interface_services)

    def why_not(zone: Zone) -> str | None:
        if fargate is not None and zone.zone_id not in fargate:
            return f"Fargate does not run in {zone.zone_id} ({zone.name}); it runs in {', '.join(sorted(fargate))}"
        if offered is not None and zone.name not in offered:
            return f"an endpoint the stack needs is not offered in {zone.name} ({zone.zone_id})"
        return None

    if wanted:
        by_key = {z.name: z for z in zones} | {z.zone_id: z for z in zones}
        chosen = []
        for i, key in enumerate(wanted):
            zone = by_key.get(key)
            if zone is None:
                raise SettingsError([f"network.availabilityZones[{i}]: {key!r} is not an available zone of {region}; "
                                     f"allowed: {', '.join(f'{z.name} ({z.zone_id})' for z in zones)}"])
            problem = why_not(zone)
            if problem:
                raise SettingsError([f"network.availabilityZones[{i}]: {key!r}: {problem}"])
            chosen.append(zone)
        if len({z.zone_id for z in chosen}) != len(chosen):
            raise SettingsError(["network.availabilityZones: names one zone twice (by name and by ID)"])
        return tuple(chosen)
    eligible = [z for z in zones if why_not(z) is None]
    if len(eligible) < count:
        names = ", ".join(f"{z.name} ({z.zone_id})" for z in eligible) or "none"
        raise SettingsError([f"network.azCount: {count} is more than the {len(eligible)} zones of {region} where "
                             f"Fargate and the stack's endpoints run ({names}); allowed: 1..{max(len(eligible), 1)}"])
    return tuple(eligible[:count])
