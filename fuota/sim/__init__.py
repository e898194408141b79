"""Simulators of fuota's back ends, with a fleet of virtual devices that really decode TS004 fragments.

`IoTSquareSim` serves the IoTSquare OpenAPI on 127.0.0.1; `fleet_euis` gives deterministic device EUIs.
"""

from fuota.sim.clock import SimClock
from fuota.sim.fleet import Broadcast, Fleet, Session, VirtualDevice, fleet_euis
from fuota.sim.iotsquare import IoTSquareSim
from fuota.sim.iotsquare_codes import RESPONSE_CODES, DeviceState, TaskState

__all__ = [
    "RESPONSE_CODES",
    "Broadcast",
    "DeviceState",
    "Fleet",
    "IoTSquareSim",
    "Session",
    "SimClock",
    "TaskState",
    "VirtualDevice",
    "fleet_euis",
]
