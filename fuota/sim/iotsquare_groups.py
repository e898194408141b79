"""Multicast groups and their members in the IoTSquare simulator (spec sections 6.2 and 7.2).

A group is manually configured (mcAddr and session keys given: members count as joined at once, as the spec
says, even a device that never joins, which then hears nothing) or auto-configured (enableMCRemote: a member
reports joined `join_delay` simulated seconds after being added, never if it does not join). A device is bound
to one group at most; the extended function (enableMCExt) caps a group at 253 devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from fuota.backends.iotsquare.codes import MAX_EXT_GROUP_SIZE
from fuota.sim.clock import SimClock
from fuota.sim.fleet import Fleet, VirtualDevice
from fuota.sim.iotsquare_codes import RESPONSE_CODES, ApiError, Reply, eui, hex_field, integer, page

__all__ = ["EXT_LIMIT", "REGIONS", "GroupBook", "McGroup", "Member"]

REGIONS: dict[str, tuple[str, ...]] = {
    "cn470": ("ch_00-07",),
    "cn470prequel": ("ch_00-07",),
    "eu868": ("ch_00-07",),
    "as923": ("ch_00-07",),
    "us915": ("ch_00-07_64",),
    "eu433": ("ch_00-07",),
    "au915": ("ch_00-07_64",),
    "in865": ("ch_00-07",),
}
"""The regions and subnets IoTSquare presets (section 3.1)."""
EXT_LIMIT = MAX_EXT_GROUP_SIZE  # section 6.1.4, as the adapter reads it
MAX_HEADERS = 5  # section 2.1: "up to 5 HTTP request headers"
MANUAL_GROUP_ID = 256  # what the server reports as groupID of a manually configured group (section 6.2.1)
# The spec says "letters and underscores" but its own samples are named mc_group_00: digits are accepted too.
_NAME = re.compile(r"[A-Za-z0-9_]{1,20}")


@dataclass(eq=False)
class Member:
    """A device bound to a group: when it was added and when it joined (None: never)."""

    device: VirtualDevice
    added_at: float
    joined_at: float | None

    def joined(self, now: float) -> bool:
        """Whether the device has the group's multicast configuration at simulated time `now`."""
        return self.joined_at is not None and self.joined_at <= now


@dataclass(eq=False)
class McGroup:
    """A multicast group with the fields the spec's MCGroup objects show."""

    mc_eui: str
    name: str
    region: str
    subnet: str
    remote: bool
    group_id: int
    ext: bool
    created_at: float
    mc_addr: str = ""
    nwk_skey: str = ""
    push_url: str = ""
    enable_mqtt: bool = False
    push_urls: tuple[str, ...] = ()  # every pushURL given (a string or, since 3.3.65, an array)
    headers: dict[str, str] = field(default_factory=dict)
    auto_subnet: bool = False
    members: dict[str, Member] = field(default_factory=dict)


def _text(body: dict[str, object], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise ApiError(1006, f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(1007, f"{name} must be a string, not {value!r}")
    return value


def _flag(body: dict[str, object], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(1007, f"{name} must be true or false, not {value!r}")
    return value


def _push_urls(body: dict[str, object]) -> tuple[str, ...]:
    """pushURL as a string (the spec's sample) or an array of strings (its 3.3.65 table), each http(s)://."""
    value = body.get("pushURL", "")
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ApiError(1007, f"pushURL must be a string or an array of strings, not {value!r}")
    if any(not url.startswith(("http://", "https://")) for url in urls if url):
        raise ApiError(1007, f"pushURL {value!r}: links start with http:// or https://")
    return tuple(url for url in urls if url)


def _headers(body: dict[str, object]) -> dict[str, str]:
    """headers: a map of at most 5 string values (section 2.1)."""
    value = body.get("headers") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(1007, f"headers must be a map of strings, not {value!r}")
    if len(value) > MAX_HEADERS:
        raise ApiError(1007, f"headers: at most {MAX_HEADERS}, not {len(value)}")
    return dict(value)


def _eui_list(body: dict[str, object], name: str) -> list[str]:
    """A list of EUIs, lower-cased, duplicates kept once (the spec's sample answers a repeated EUI once)."""
    value = body.get(name)
    if not value:
        raise ApiError(1006, f"{name} is required")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(1007, f"{name} must be an array of strings")
    return list(dict.fromkeys(item.lower() for item in value))


def _refusal(code: int, key: str, value: str) -> dict[str, object]:
    return {"code": code, "msg": RESPONSE_CODES[code], key: value}


class GroupBook:
    """The multicast groups, their members and the endpoints that manage them."""

    def __init__(self, fleet: Fleet, clock: SimClock, join_delay: float, rng: np.random.Generator) -> None:
        self.fleet, self.clock, self.join_delay, self._rng = fleet, clock, join_delay, rng
        self.groups: dict[str, McGroup] = {}
        self.created: list[McGroup] = []  # every group mcgroup/create made, kept after it is deleted
        self._bound: dict[str, str] = {}  # devEUI → mcEUI: a device is in one group at most

    def get(self, mc_eui: str) -> McGroup:
        """The group `mc_eui`, or 14001."""
        group = self.groups.get(mc_eui)
        if group is None:
            raise ApiError(14001, f"no multicast group {mc_eui}")
        return group

    def preset(self, mc_eui: str, dev_euis: list[str], now: float) -> McGroup:
        """A manually configured group made at start-up, its members registered and joined."""
        mc_eui = mc_eui.lower()
        group = McGroup(
            mc_eui, f"sim_group_{len(self.groups)}", "eu868", "ch_00-07", False, MANUAL_GROUP_ID, False, now
        )
        group.mc_addr, group.nwk_skey = self._rng.bytes(4).hex(), self._rng.bytes(16).hex()
        self.groups[mc_eui] = group
        for dev_eui in dev_euis:
            if dev_eui.lower() in self._bound:
                raise ValueError(f"device {dev_eui} is in two groups; a device is bound to one group at most")
            self._bind(group, self.fleet.add(dev_eui), now)
        return group

    def create_group(self, body: dict[str, object], now: float) -> Reply:
        """POST mcgroup/create (6.2.2)."""
        mc_eui, name = eui(body, "mcEUI"), _text(body, "mcName")
        if not _NAME.fullmatch(name):
            raise ApiError(1007, f"mcName {name!r}: letters, digits and underscores, at most 20 characters")
        region = _text(body, "region")
        if region not in REGIONS:
            raise ApiError(1011, f"region {region!r}; known: {', '.join(REGIONS)}")
        subnet = "auto" if _flag(body, "autoSubnet") else _text(body, "subnet")
        if subnet != "auto" and subnet not in REGIONS[region]:
            raise ApiError(1011, f"subnet {subnet!r} of {region}; known: {', '.join(REGIONS[region])}")
        if body.get("class", "C") != "C":
            raise ApiError(1007, "class: only Class C devices can join a multicast group")
        remote, ext = _flag(body, "enableMCRemote"), _flag(body, "enableMCExt")
        mc_addr = nwk_skey = ""
        if remote:
            hex_field(body, "genAppKey", 32)
            group_id = integer(body, "groupID")
            if not 0 <= group_id <= 3:
                raise ApiError(1007, f"groupID {group_id}: 0..3 with multicast auto-configuration")
        else:
            mc_addr, nwk_skey = hex_field(body, "mcAddr", 8), hex_field(body, "mcNwkSKey", 32)
            hex_field(body, "mcAppSKey", 32)
            group_id = MANUAL_GROUP_ID
        if ext and not 0 <= integer(body, "timeSlotLength") <= 15:
            raise ApiError(1007, "timeSlotLength: 0..15 with the extended function")
        push_urls, headers = _push_urls(body), _headers(body)
        if mc_eui in self.groups:
            raise ApiError(14002, f"multicast group {mc_eui} exists")
        if any(group.name == name for group in self.groups.values()):
            raise ApiError(14005, f"a multicast group is named {name}")
        if mc_addr and any((g.mc_addr, g.nwk_skey) == (mc_addr, nwk_skey) for g in self.groups.values()):
            raise ApiError(14003, f"mcAddr {mc_addr} with this mcNwkSKey is used by another group")
        self.groups[mc_eui] = McGroup(
            mc_eui, name, region, subnet, remote, group_id, ext, now, mc_addr, nwk_skey,
            push_urls[0] if push_urls else "", _flag(body, "enableMQTT"), push_urls, headers, subnet == "auto",
        )  # fmt: skip
        self.created.append(self.groups[mc_eui])
        return Reply()

    def delete_groups(self, body: dict[str, object]) -> tuple[list[str], list[dict[str, object]]]:
        """POST mcgroup/delete (6.2.3): the groups deleted and the refusals; the caller raises 14007 on refusals."""
        deleted, refusals = [], []
        for mc_eui in _eui_list(body, "mcEUIs"):
            group = self.groups.pop(mc_eui, None)
            if group is None:
                refusals.append(_refusal(14001, "mcEUI", mc_eui))
                continue
            for dev_eui in group.members:
                del self._bound[dev_eui]
            deleted.append(mc_eui)
        return deleted, refusals

    def list_groups(self, body: dict[str, object], now: float) -> Reply:
        """GET mcgroup/list (6.2.1)."""
        rows = [
            {
                "mcEUI": g.mc_eui,
                "mcName": g.name,
                "region": g.region,
                "subnet": g.subnet,
                "groupID": g.group_id,
                "pushURL": g.push_url,
                "enableMQTT": g.enable_mqtt,
                "deviceNums": len(g.members),
                "createtime": self.clock.ms(g.created_at),
            }
            for g in self.groups.values()
        ]
        return Reply(rows[page(body)], len(rows))

    def list_members(self, body: dict[str, object], now: float) -> Reply:
        """GET mcdevice/list (7.2.1)."""
        group = self.get(eui(body, "mcEUI"))
        rows = [
            {
                "devEUI": dev_eui,
                "devName": member.device.name,
                "joined": member.joined(now),
                "createtime": self.clock.ms(member.added_at),
            }
            for dev_eui, member in group.members.items()
        ]
        return Reply(rows[page(body)], len(rows))

    def bind(self, body: dict[str, object], now: float) -> Reply:
        """POST mcdevice/create (7.2.2): the good devices are added even when others are refused (14008)."""
        group = self.get(eui(body, "mcEUI"))
        refusals = []
        for dev_eui in _eui_list(body, "devEUIs"):
            if dev_eui not in self.fleet:
                refusals.append(_refusal(4001, "devEUI", dev_eui))
            elif dev_eui in group.members:
                refusals.append(_refusal(14010, "devEUI", dev_eui))
            elif dev_eui in self._bound:
                refusals.append(_refusal(14011, "devEUI", dev_eui))
            elif group.ext and len(group.members) >= EXT_LIMIT:
                refusals.append(_refusal(14004, "devEUI", dev_eui))
            else:
                self._bind(group, self.fleet[dev_eui], now)
        if refusals:
            raise ApiError(14008, f"{len(refusals)} device(s) refused", refusals)
        return Reply()

    def unbind(self, body: dict[str, object], now: float) -> Reply:
        """POST mcdevice/delete (7.2.3)."""
        group = self.get(eui(body, "mcEUI"))
        refusals = []
        for dev_eui in _eui_list(body, "devEUIs"):
            if group.members.pop(dev_eui, None) is None:
                refusals.append(_refusal(14013, "devEUI", dev_eui))
            else:
                del self._bound[dev_eui]
        if refusals:
            raise ApiError(14009, f"{len(refusals)} device(s) not in {group.mc_eui}", refusals)
        return Reply()

    def _bind(self, group: McGroup, device: VirtualDevice, now: float) -> None:
        if not group.remote:
            joined_at: float | None = now
        else:
            joined_at = now + self.join_delay if device.joins else None
        group.members[device.dev_eui] = Member(device, now, joined_at)
        self._bound[device.dev_eui] = group.mc_eui
