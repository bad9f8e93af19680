"""Property values as they travel on the wire, and the three views the preview makes of them.

- `display`: what the report shows: unknowns as `<unknown>`, secrets as `[secret]`, a resource as its URN.
- `for_policies`: what the engine hands a policy pack: secrets still wrapped (the pack's SDK unwraps them,
  so policies read the real value, as CrossGuard's do), unknowns as the engine's sentinel, a resource
  reference as its id (its URN for a component), as the engine sends them to an analyzer.
- `downgraded`: a register request's properties with resource references turned into ids or URNs,
  which is what a provider receives, so the mock monitor never rebuilds a resource object on its own
  thread (the cause of pulumi/pulumi#6561, see `child.RecordingMonitor`).

Loaded by the preview's child by file path; imports only `pulumi` and protobuf.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

UNKNOWN_TEXT = "<unknown>"
SECRET_TEXT = "[secret]"
_SIG = rpc._special_sig_key
_SECRET = rpc._special_secret_sig
_RESOURCE = rpc._special_resource_sig
_OUTPUT = rpc._special_output_value_sig
_ASSETS = (rpc._special_asset_sig, rpc._special_archive_sig)


def display(value: Any) -> Any:
    """A value made readable for the report."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET:
            return SECRET_TEXT
        if sig == _RESOURCE:
            return value.get("urn")
        if sig in _ASSETS:
            kind = "asset" if sig == rpc._special_asset_sig else "archive"
            return {kind: value.get("path") or value.get("uri") or value.get("text") or "<inline>"}
        if sig == _OUTPUT:
            if "value" not in value:
                return UNKNOWN_TEXT
            return SECRET_TEXT if value.get("secret") else display(value["value"])
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display(v) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _reference(value: dict[str, Any]) -> Any:
    if "id" in value:
        return value["id"] if value["id"] else rpc.UNKNOWN
    return value.get("urn")


def for_policies(value: Any) -> Any:
    """A value as the engine sends it to a policy pack (plain JSON, secrets wrapped, unknowns as sentinels)."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET:
            return {_SIG: _SECRET, "value": for_policies(value.get("value"))}
        if sig == _RESOURCE:
            return _reference(value)
        if sig == _OUTPUT:
            if "value" not in value:
                return rpc.UNKNOWN
            inner = for_policies(value["value"])
            return {_SIG: _SECRET, "value": inner} if value.get("secret") else inner
        return {k: for_policies(v) for k, v in value.items()}
    if isinstance(value, list):
        return [for_policies(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _downgrade(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG) == _RESOURCE:
            return _reference(value)
        return {k: _downgrade(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_downgrade(v) for v in value]
    return value


def has_reference(value: Any) -> bool:
    """True when a resource reference is anywhere in a wire value."""
    if isinstance(value, dict):
        return value.get(_SIG) == _RESOURCE or any(has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(has_reference(v) for v in value)
    return False


def to_dict(struct: Any) -> dict[str, Any]:
    """A protobuf Struct as its wire JSON (signatures and sentinels kept)."""
    return json_format.MessageToDict(struct) if struct is not None else {}


def downgraded(struct: struct_pb2.Struct) -> struct_pb2.Struct | None:
    """The struct with resource references replaced by ids or URNs; None when it has none."""
    wire = to_dict(struct)
    if not has_reference(wire):
        return None
    return json_format.ParseDict(_downgrade(wire), struct_pb2.Struct())
