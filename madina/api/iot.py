"""The IoT gateway over HTTP, as the FIWARE IoT Agents offer it.

North port (provisioning, for operators and admins): `/iot/services` (service groups, picked by
the `apikey` and `resource` query parameters) and `/iot/devices`, scoped by `fiware-service`
(or `NGSILD-Tenant`; they name the same tenant) and `fiware-servicepath` (default `/`; `/*`
lists every path). Provisioning a device creates or completes its entity, static attributes
included, through the broker. `POST /iot/devices/{deviceId}/commands` sends commands (see
madina.iot.gateway). Errors are the agents' own `{"name": ..., "message": ...}`.

South port (devices): `/iot/d` (UltraLight) and `/iot/json` (JSON) with `k` (apikey), `i`
(device id), optional `t` (timestamp) and `getCmd=1` (fetch waiting commands). The apikey is the
device's credential, as with the agents, so these routes need no other; a measure is answered
once it is committed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api import http
from madina.auth.principal import Role
from madina.auth.rules import OPEN, allow
from madina.context.errors import BadRequestData, NgsiError
from madina.iot import provisioning
from madina.iot.gateway import CommandUnavailable, Gateway, polling_answer
from madina.iot.ingest import Message
from madina.iot.measures import static_attributes
from madina.iot.provisioning import (
    DEFAULT_SERVICE_PATH,
    JSON,
    JSON_RESOURCE,
    UL_RESOURCE,
    ULTRALIGHT,
    DeviceProfile,
    WrongSyntax,
)
from madina.iot.registry import UNKNOWN_APIKEY, UNKNOWN_DEVICE, Unknown
from madina.store.iot import IotStore, ProvisionedRecord

MAX_BODY_BYTES = 1024 * 1024
ALL_PATHS = "/*"
Endpoint = Callable[[Request], Awaitable[Response]]


class IotError(Exception):
    """An answer in the agents' error format."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def _answer(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json")


def _error(status: int, name: str, message: str) -> Response:
    return _answer({"name": name, "message": message}, status)


def agent_errors(endpoint: Endpoint) -> Endpoint:
    """Answer the route's failures as the agents do (`WRONG_SYNTAX` for bad bodies, ...)."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except IotError as error:
            return _error(error.status, error.name, error.message)
        except WrongSyntax as error:
            return _error(400, "WRONG_SYNTAX", f"Wrong syntax in request: {error}")
        except NgsiError as error:
            return _error(error.status, "BAD_REQUEST", str(error.detail))

    return answer


def _gateway(request: Request) -> Gateway:
    return request.app.state.iot


def _iot(request: Request) -> IotStore:
    return request.app.state.store.iot


def _scope(request: Request, listing: bool = False) -> tuple[str, str | None]:
    """(tenant, service path); the path is None for `/*` on a listing (every path)."""
    service = request.headers.get("fiware-service")
    tenant = request.headers.get(http.TENANT_HEADER)
    if service is not None and tenant is not None and service != tenant:
        raise IotError(400, "WRONG_SYNTAX", "fiware-service and NGSILD-Tenant name different "
                       "tenants")
    try:
        tenant = http.tenant_of(request) if service is None else _checked_tenant(service)
    except BadRequestData as error:
        raise IotError(400, "WRONG_SYNTAX", str(error.detail)) from None
    path = request.headers.get("fiware-servicepath", DEFAULT_SERVICE_PATH) or "/"
    if listing and path == ALL_PATHS:
        return tenant, None
    if not path.startswith("/") or len(path) > 256 or "*" in path or "#" in path:
        raise IotError(400, "WRONG_SYNTAX", f"invalid fiware-servicepath {path!r}")
    return tenant, path


def _checked_tenant(name: str) -> str:
    if name and (len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name)):
        raise BadRequestData(f"invalid tenant name {name!r}")
    return name


async def _body(request: Request, member: str | None = None) -> Any:
    body, _ = await http.read_json(request, MAX_BODY_BYTES)
    if member is None:
        return body
    if not isinstance(body, dict) or not isinstance(body.get(member), list) or not body[member]:
        raise WrongSyntax(f"the body must be an object with a non-empty {member!r} list")
    return body[member]


def _changed(request: Request, status: int) -> Response:
    """The answer to a provisioning change, once the gateway's registry has forgotten what it
    cached."""
    _gateway(request).registry.forget()
    return Response(status_code=status)


# -- service groups ----------------------------------------------------------------------------
def _group_json(record: ProvisionedRecord) -> dict[str, Any]:
    return {**record.doc, "service": record.tenant, "subservice": record.service_path}


@allow(Role.OPERATOR)
@agent_errors
async def list_groups(request: Request) -> Response:
    tenant, path = _scope(request, listing=True)
    groups = await http.call(request, _iot(request).groups, tenant, path)
    return _answer({"count": len(groups), "services": [_group_json(g) for g in groups]})


@allow(Role.OPERATOR)
@agent_errors
async def create_groups(request: Request) -> Response:
    tenant, path = _scope(request)
    docs = [provisioning.parse_group(item) for item in await _body(request, "services")]
    iot = _iot(request)
    for doc in docs:
        if await http.call(request, iot.group, doc["apikey"], doc["resource"]) is not None:
            raise IotError(409, "DUPLICATE_GROUP", "A device configuration already exists for "
                           f"resource {doc['resource']} and API Key {doc['apikey']}")
    for doc in docs:
        record = ProvisionedRecord(tenant, path, doc["apikey"], doc["resource"], doc)
        if not await http.call(request, iot.add_group, record):
            raise IotError(409, "DUPLICATE_GROUP", "A device configuration already exists for "
                           f"resource {doc['resource']} and API Key {doc['apikey']}")
    return _changed(request, 201)


async def _group(request: Request) -> ProvisionedRecord:
    tenant, path = _scope(request)
    apikey = request.query_params.get("apikey")
    resource = request.query_params.get("resource")
    if not apikey or not resource:
        raise IotError(400, "MISSING_CONFIG_PARAMS", "The following mandatory configuration "
                       "parameters were missing: apikey and resource query parameters")
    record = await http.call(request, _iot(request).group, apikey, resource)
    if record is None or (record.tenant, record.service_path) != (tenant, path):
        raise IotError(404, "DEVICE_GROUP_NOT_FOUND", "Couldn't find device group for fields: "
                       f"apikey, resource and values: {apikey}, {resource}")
    return record


@allow(Role.OPERATOR)
@agent_errors
async def update_group(request: Request) -> Response:
    record = await _group(request)
    changed = replace(record, doc=provisioning.update_group(record.doc, await _body(request)))
    await http.call(request, _iot(request).replace_group, changed)
    return _changed(request, 204)


@allow(Role.OPERATOR)
@agent_errors
async def delete_group(request: Request) -> Response:
    record = await _group(request)
    await http.call(request, _iot(request).delete_group, record.tenant, record.service_path,
                    record.apikey, record.key)
    return _changed(request, 204)


# -- devices -----------------------------------------------------------------------------------
def _device_json(record: ProvisionedRecord) -> dict[str, Any]:
    return {**record.doc, "apikey": record.apikey, "service": record.tenant,
            "service_path": record.service_path}


def _limit(request: Request, name: str, default: int | None) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise IotError(400, "WRONG_SYNTAX", f"{name} must be a whole number")
    return int(value)


@allow(Role.OPERATOR)
@agent_errors
async def list_devices(request: Request) -> Response:
    tenant, path = _scope(request, listing=True)
    limit = _limit(request, "limit", None)
    offset = _limit(request, "offset", 0) or 0
    devices, count = await http.call(request, _iot(request).devices, tenant, path, None, limit,
                                     offset)
    return _answer({"count": count, "devices": [_device_json(d) for d in devices]})


@allow(Role.OPERATOR)
@agent_errors
async def create_devices(request: Request) -> Response:
    tenant, path = _scope(request)
    assert path is not None
    items = await _body(request, "devices")
    prepared = [await http.call(request, _prepare_device, _iot(request), tenant, path, item)
                for item in items]
    for record, profile in prepared:
        await http.call(request, _provision, request.app.state.iot, record, profile)
    return _changed(request, 201)


def _prepare_device(
    iot: IotStore, tenant: str, path: str, item: Any
) -> tuple[ProvisionedRecord, DeviceProfile]:
    """The device's record and profile; its apikey is its own or its service group's."""
    doc = provisioning.parse_device(item)
    groups = iot.groups(tenant, path)
    apikey = doc.get("apikey")
    group = None
    if apikey is None:
        wanted = JSON_RESOURCE if provisioning.protocol_of(doc, {}) == JSON else UL_RESOURCE
        group = next((g for g in groups if g.key == wanted), groups[0] if groups else None)
        if group is None:
            raise WrongSyntax(f"device {doc['device_id']!r} has no apikey and no service group "
                              "of its service path gives one")
        apikey = group.apikey
    else:
        group = next((g for g in groups if g.apikey == apikey), None)
    record = ProvisionedRecord(tenant, path, apikey, doc["device_id"], doc)
    profile = provisioning.profile(tenant, path, apikey, doc, group.doc if group else None)
    _, bad = static_attributes(profile.device)
    if bad:
        raise WrongSyntax(f"static attribute {bad[0].object_id!r}: {bad[0].detail}")
    return record, profile


def _provision(gateway: Gateway, record: ProvisionedRecord, profile: DeviceProfile) -> None:
    """Store the device, then create or complete its entity; undo the first if the second
    fails, so a refused device leaves nothing behind."""
    iot = gateway.store.iot
    if not iot.add_device(record):
        raise IotError(409, "DUPLICATE_DEVICE_ID", "A device with the same pair (Service, "
                       f"DeviceId) was found: {record.key}")
    try:
        _write_entity(gateway, profile)
    except BaseException:
        iot.delete_device(record.tenant, record.service_path, record.apikey, record.key)
        raise


def _write_entity(gateway: Gateway, profile: DeviceProfile) -> None:
    attributes, _ = static_attributes(profile.device)
    for command in profile.commands:
        attributes.setdefault(f"{command.name}_status",
                              {"type": "Property", "value": "UNKNOWN"})
    body = {"id": profile.entity_id, "type": profile.device.entity_type, **attributes}
    result = gateway.broker.batch_upsert(profile.tenant, [(body, gateway.terms)], replace=False)
    if result.errors:
        raise IotError(400, "WRONG_SYNTAX", "the device's entity was refused: "
                       + str(result.errors[0]["error"].get("detail", "")))


async def _device(request: Request) -> ProvisionedRecord:
    tenant, path = _scope(request)
    device_id = request.path_params["deviceId"]
    apikey = request.query_params.get("apikey")
    found, _ = await http.call(request, _iot(request).devices, tenant, path, device_id)
    found = [d for d in found if apikey is None or d.apikey == apikey]
    if not found:
        raise IotError(404, "DEVICE_NOT_FOUND", f"No device was found with id:{device_id}")
    return found[0]


async def _profile(request: Request, record: ProvisionedRecord) -> DeviceProfile:
    groups = await http.call(request, _iot(request).groups_by_apikey, record.apikey)
    group = next((g for g in groups if (g.tenant, g.service_path)
                  == (record.tenant, record.service_path)), None)
    return provisioning.profile(record.tenant, record.service_path, record.apikey, record.doc,
                                group.doc if group else None)


@allow(Role.OPERATOR)
@agent_errors
async def get_device(request: Request) -> Response:
    return _answer(_device_json(await _device(request)))


@allow(Role.OPERATOR)
@agent_errors
async def update_device(request: Request) -> Response:
    record = await _device(request)
    changed = replace(record, doc=provisioning.update_device(record.doc, await _body(request)))
    profile = await _profile(request, changed)
    await http.call(request, _write_entity, request.app.state.iot, profile)
    await http.call(request, _iot(request).replace_device, changed)
    return _changed(request, 204)


@allow(Role.OPERATOR)
@agent_errors
async def delete_device(request: Request) -> Response:
    record = await _device(request)
    await http.call(request, _iot(request).delete_device, record.tenant, record.service_path,
                    record.apikey, record.key)
    return _changed(request, 204)


@allow(Role.OPERATOR)
@agent_errors
async def send_commands(request: Request) -> Response:
    """`{"<command>": <value>, ...}`: each must be one of the device's commands."""
    profile = await _profile(request, await _device(request))
    commands = await _body(request)
    if not isinstance(commands, dict) or not commands:
        raise WrongSyntax("the body must be an object naming at least one command")
    for name in commands:
        if profile.command(name) is None:
            raise IotError(400, "COMMAND_NOT_FOUND", "Couldn't update the command because no "
                           f"command with the name [{name}] was found.")
    try:
        await http.call(request, _gateway(request).send_commands, profile, commands)
    except CommandUnavailable as error:
        raise IotError(409, "COMMAND_UNAVAILABLE", str(error)) from None
    return Response(status_code=204)


# -- devices' own routes -----------------------------------------------------------------------
REFUSALS = {
    UNKNOWN_APIKEY: (404, "DEVICE_GROUP_NOT_FOUND", "Couldn't find device group for the apikey"),
    UNKNOWN_DEVICE: (404, "DEVICE_NOT_FOUND", "Device not found, and its group does not "
                     "autoprovision devices"),
    "malformed": (400, "PARSE_ERROR", "There was a syntax error in the request"),
    "too_large": (413, "PAYLOAD_TOO_LARGE", "The payload is larger than the gateway accepts"),
    "overloaded": (503, "OVERLOADED", "Too many measures are waiting; retry later"),
}


async def _southbound(request: Request, form: str) -> Response:
    apikey = request.query_params.get("k")
    device_id = request.query_params.get("i")
    missing = [name for name, value in (("API Key", apikey), ("Device Id", device_id))
               if not value]
    poll = request.query_params.get("getCmd") == "1"
    data = request.query_params.get("d")
    if request.method == "GET" and data is None and not poll:
        missing.append("Payload")
    if missing:
        return _error(400, "MANDATORY_PARAMS_NOT_FOUND", "Some of the mandatory params weren't "
                      f"found in the request: {orjson.dumps(missing).decode()}")
    assert apikey is not None and device_id is not None
    payload = data.encode() if data is not None else None
    if request.method == "POST":
        expected = "application/json" if form == JSON else "text/plain"
        given = request.headers.get("content-type", expected).split(";")[0].strip().lower()
        if given != expected:
            return _error(400, "UNSUPPORTED_TYPE", "The request content didn't have the "
                          f"expected type [{expected}]")
        payload = await _raw_body(request)
        if payload is None:
            return _error(*REFUSALS["too_large"])
    if payload is not None and (payload.strip() or not poll):
        message = Message("http", apikey, device_id, payload, form,
                          timestamp=request.query_params.get("t"))
        outcome = await _gateway(request).submit(message)
        if outcome.reason is not None:
            status, name, text = REFUSALS.get(
                outcome.reason, (400, "BAD_REQUEST", "The measure was refused"))
            return _error(status, name, f"{text}: {outcome.reason} {outcome.detail}".strip())
    if not poll:
        return Response(b"", 200, media_type="text/plain")
    return await _poll(request, apikey, device_id, form)


async def _poll(request: Request, apikey: str, device_id: str, form: str) -> Response:
    gateway = _gateway(request)
    resource = JSON_RESOURCE if form == JSON else UL_RESOURCE
    profile = await http.call(request, gateway.registry.lookup, apikey, device_id, resource)
    if isinstance(profile, Unknown):
        return _error(*REFUSALS[profile.reason])
    commands = await http.call(request, gateway.take_commands, profile)
    media = "application/json" if form == JSON else "text/plain"
    if not commands:
        return Response(b"{}" if form == JSON else b"", 200, media_type=media)
    return Response(polling_answer(profile, commands, form), 200, media_type=media)


async def _raw_body(request: Request) -> bytes | None:
    """The body, or None past the gateway's message limit (refused before parsing)."""
    limit = request.app.state.settings.iot_max_payload_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@allow(OPEN)
async def ultralight_measures(request: Request) -> Response:
    return await _southbound(request, ULTRALIGHT)


@allow(OPEN)
async def json_measures(request: Request) -> Response:
    return await _southbound(request, JSON)


routes = [
    Route("/services", list_groups, methods=["GET"]),
    Route("/services", create_groups, methods=["POST"]),
    Route("/services", update_group, methods=["PUT"]),
    Route("/services", delete_group, methods=["DELETE"]),
    Route("/devices", list_devices, methods=["GET"]),
    Route("/devices", create_devices, methods=["POST"]),
    Route("/devices/{deviceId}", get_device, methods=["GET"]),
    Route("/devices/{deviceId}", update_device, methods=["PUT"]),
    Route("/devices/{deviceId}", delete_device, methods=["DELETE"]),
    Route("/devices/{deviceId}/commands", send_commands, methods=["POST"]),
    Route("/d", ultralight_measures, methods=["GET", "POST"]),
    Route("/json", json_measures, methods=["GET", "POST"]),
]
