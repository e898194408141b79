"""How devices and campaigns end: a device's outcome once its deployment ended, a campaign's once all did.

Pure functions of what the store holds; the engine calls `outcome_of` when a deployment ends, the runner
`campaign_outcome` once every deployment of a campaign has.
"""

from __future__ import annotations

from dataclasses import replace

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage

__all__ = ["campaign_outcome", "outcome_of"]


def outcome_of(
    device: DeviceProgress, ending: DeploymentState, cause: str = "", expected_version: str | None = None
) -> DeviceProgress:
    """The device's final outcome once its deployment ended in `ending`; the stage is kept as it was.

    Where the back end reports the device's firmware version and the campaign names the version it sends,
    "updated" means the device reports that version.
    """
    if device.outcome is not None:
        return device
    if device.stage is Stage.DONE:
        reported = device.firmware_version or ""
        if expected_version and reported and reported != expected_version:
            reason = f"the device reports firmware {reported!r}, not the {expected_version!r} sent: it did not apply it"
            return replace(device, outcome=Outcome.FAILED, reason=reason)
        return replace(device, outcome=Outcome.UPDATED, reason=None)
    if ending is DeploymentState.ABORTED:
        reason = f"campaign aborted while the device was at stage {device.stage}"
        return replace(device, outcome=Outcome.FAILED, reason=reason)
    if ending is DeploymentState.FAILED:
        return replace(device, outcome=Outcome.FAILED, reason=device.reason or f"deployment failed: {cause}")
    if device.stage in (Stage.PENDING, Stage.MULTICAST_SETUP):
        reason = device.reason or "never joined the multicast group: check that it is a Class C device in reach"
        return replace(device, outcome=Outcome.UNREACHABLE, reason=reason)
    reason = device.reason or f"the task ended while the device was at stage {device.stage}, not done"
    return replace(device, outcome=Outcome.FAILED, reason=reason)


def campaign_outcome(
    states: list[DeploymentState], outcomes: dict[str, int], threshold: float
) -> tuple[CampaignState, str] | None:
    """The campaign's final state once every deployment ended (None before), and why."""
    if not all(s.ended for s in states):
        return None
    if DeploymentState.ABORTED in states:
        return CampaignState.ABORTED, "a deployment was aborted"
    if DeploymentState.FAILED in states:
        return CampaignState.FAILED, "a deployment failed"
    total = sum(outcomes.values())
    updated = outcomes.get(Outcome.UPDATED.value, 0)
    if total and updated / total >= threshold:
        return CampaignState.DONE, f"{updated} of {total} devices updated"
    return CampaignState.FAILED, f"only {updated} of {total} devices updated, below the success threshold {threshold:g}"
