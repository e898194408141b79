"""The simulators' tables copy the specs: IoTSquare's response codes and task states, Milesight's return, FUOTA
error and session codes, and the gateways' EUIs."""

from __future__ import annotations

from fuota.sim import RESPONSE_CODES, TaskState
from fuota.sim.milesight import gateway_euis
from fuota.sim.milesight_codes import FragmentSessionStatus as Frag
from fuota.sim.milesight_codes import FuotaError, ReturnCode
from fuota.sim.milesight_codes import MulticastSessionStatus as Mc

GW = gateway_euis(3)


def test_every_message_comes_from_the_spec_table() -> None:
    assert RESPONSE_CODES[0] == "ok" and RESPONSE_CODES[14008] == "MCDevice Batch Bind Error"
    assert RESPONSE_CODES[16001] == "Fuota Deployment Already Exist"
    assert [s.value for s in TaskState][:7] == [
        "Created", "SendFragSessSetup", "EnqueueFragment", "SendFragSessStatus", "SendFragSessDel", "Cleanup", "Done"
    ]  # fmt: skip


def test_tables_copy_the_spec() -> None:
    assert (ReturnCode.PARAMETER, ReturnCode.PARAMETER.description) == (3, "Parameter exceptions")
    assert FuotaError.REDUNDANCY == 10310012 and FuotaError.REDUNDANCY.description == "Redundancy percent invalid"
    assert len(FuotaError) == 15 and len(Mc) == 14 and len(Frag) == 17
    assert Mc.SETUP_TIMEOUT == 6 and Frag.LOW_MEMORY == 7 and Frag.LACK_OF_FRAGMENTS == 9
    assert gateway_euis(3) == GW and len(set(gateway_euis(50))) == 50 and GW[0].startswith("24e124fffe")
