"""Simulators of fuota's back ends, with a fleet of virtual devices that really decode TS004 fragments.

`IoTSquareSim` serves the IoTSquare OpenAPI on 127.0.0.1; `MilesightSim` answers Milesight gateways' ns-api on an
MQTT broker; `fleet_euis` and `gateway_euis` give deterministic EUIs. `Faults` (IoTSquare: 5xx, busy, slow, dropped,
malformed, wrong types) and `AnswerFaults` (Milesight: garbled answers) make back ends misbehave, also while serving.
"""

from fuota.sim.clock import SimClock
from fuota.sim.fleet import Broadcast, Fleet, Session, VirtualDevice, fleet_euis
from fuota.sim.iotsquare import IoTSquareSim
from fuota.sim.iotsquare_codes import RESPONSE_CODES, DeviceState, TaskState
from fuota.sim.iotsquare_faults import Faults
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_faults import AnswerFaults

__all__ = [
    "RESPONSE_CODES",
    "AnswerFaults",
    "Broadcast",
    "DeviceState",
    "Faults",
    "Fleet",
    "IoTSquareSim",
    "MilesightSim",
    "Session",
    "SimClock",
    "TaskState",
    "VirtualDevice",
    "fleet_euis",
    "gateway_euis",
]
