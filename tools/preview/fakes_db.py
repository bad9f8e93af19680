"""Up-mode outputs of RDS databases as RDS sets them: the port by engine when none is given, the address
`<id>.<random>.<region>.rds.<dns suffix>`, and an instance's `endpoint` as `address:port` (a cluster's is
the host alone). The provider fills `port` when the program leaves it out, so up mode must too."""

from __future__ import annotations

from typing import Any

#: The port RDS gives each engine family by default (CreateDBInstance: Port).
_ENGINE_PORTS = (("mysql", 3306), ("mariadb", 3306), ("postgres", 5432), ("oracle", 1521), ("sqlserver", 1433),
                 ("db2", 50000))


def engine_port(engine: str) -> int:
    """The default port of an engine (`aurora-postgresql` -> 5432); 3306 when unknown."""
    return next((port for word, port in _ENGINE_PORTS if word in engine), 3306)


def _host(cloud: Any, physical: str, digest: str) -> str:
    return f"{physical}.c{digest[:12]}.{cloud.region}.rds.{cloud.dns_suffix}"


def instance(cloud: Any, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    port = int(inputs.get("port") or engine_port(str(inputs.get("engine", ""))))
    address = _host(cloud, physical, digest)
    return {"port": port, "address": address, "endpoint": f"{address}:{port}"}


def cluster(cloud: Any, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    port = int(inputs.get("port") or engine_port(str(inputs.get("engine", ""))))
    host = _host(cloud, physical, digest)
    return {"port": port, "endpoint": host,
            "readerEndpoint": host.replace(f"{physical}.", f"{physical}.cluster-ro-", 1)}


#: (module, resource type) -> extra outputs, where the class name alone is ambiguous (ec2 Instance, ecs Cluster).
MODULE_EXTRAS = {("rds", "Instance"): instance, ("rds", "Cluster"): cluster}
