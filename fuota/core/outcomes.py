"""How devices and campaigns end: a device's outcome once its deployment ended, a campaign's once all did.

Pure functions of what the store holds; the engine calls `outcome_of` when a deployment ends, the runner
`campaign_outcome` once every deployment of a campaign has.

Which device gets which outcome (the first rule that applies):

    1. it has one already                     kept (a device refused at preparation is failed, backend_refused or
                                              the adapter's finer category: a real failure)
    2. the back end reports it done           updated; failed, wrong_version, when the back end reports its firmware
                                              version and it is not the campaign's expected_version
    3. its deployment was aborted before its  skipped, category aborted: nothing was sent to it
       task existed
    4. the back end reported a failure of it  failed with that category (unreachable for never_joined), even if
       (it carries a category)                the deployment was aborted or failed afterwards: that failure is real
    5. its deployment was aborted             aborted, category aborted: the operator stopped it before it finished
    6. its deployment failed                  failed, deployment_failed, with the deployment's cause
    7. the task ended before it joined        unreachable, never_joined
       (stage pending or multicast_setup)
    8. the task ended before it finished      failed, backend_silent: no verdict on it from the back end

`unreachable` is exactly the category never_joined. A device with a reason but no category (stored by a fuota before
categories) counts as unknown.

The success share: updated ÷ judged devices, where judged = devices − aborted − skipped (devices still pending
count, so that the share never runs ahead of the campaign). Only failed and unreachable are failures; aborted and
skipped are deliberate stops, neither in the share nor in alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import CATEGORIES, Category

__all__ = ["campaign_outcome", "judged", "outcome_of"]

_NOT_JOINED = (Stage.PENDING, Stage.MULTICAST_SETUP)


def judged(devices: int, outcomes: Mapping[str, int]) -> int:
    """The success share's denominator: the devices less those aborted or skipped (see the module docstring)."""
    return devices - outcomes.get(Outcome.ABORTED.value, 0) - outcomes.get(Outcome.SKIPPED.value, 0)


def outcome_of(
    device: DeviceProgress,
    ending: DeploymentState,
    cause: str = "",
    expected_version: str | None = None,
    *,
    task_created: bool = True,
) -> DeviceProgress:
    """The device's final outcome, category and reason once its deployment ended in `ending` (rules in the module
    docstring); the stage is kept as it was. `task_created` says whether the deployment's task ever existed."""
    if device.outcome is not None:
        return device
    if device.stage is Stage.DONE:
        reported = device.firmware_version or ""
        if expected_version and reported and reported != expected_version:
            reason = f"the device reports firmware {reported!r}, not the {expected_version!r} sent: it did not apply it"
            return _failed(device, Category.WRONG_VERSION, reason)
        return replace(device, outcome=Outcome.UPDATED, reason=None, category=None)
    if ending is DeploymentState.ABORTED and not task_created:
        reason = "campaign aborted before its task was created: nothing was sent to the device"
        return replace(device, outcome=Outcome.SKIPPED, reason=reason, category=Category.ABORTED)
    if device.category is not None or device.reason:
        category = device.category or Category.UNKNOWN
        return _failed(device, category, device.reason or CATEGORIES[category].label)
    if ending is DeploymentState.ABORTED:
        reason = f"campaign aborted while the device was at stage {device.stage}"
        return replace(device, outcome=Outcome.ABORTED, reason=reason, category=Category.ABORTED)
    if ending is DeploymentState.FAILED:
        return _failed(device, Category.DEPLOYMENT_FAILED, f"deployment failed: {cause}")
    if device.stage in _NOT_JOINED:
        reason = "never joined the multicast group: check that it is a Class C device in reach"
        return _failed(device, Category.NEVER_JOINED, reason)
    reason = f"the task ended while the device was at stage {device.stage}, not done"
    return _failed(device, Category.BACKEND_SILENT, reason)


def _failed(device: DeviceProgress, category: Category, reason: str) -> DeviceProgress:
    outcome = Outcome.UNREACHABLE if category is Category.NEVER_JOINED else Outcome.FAILED
    return replace(device, outcome=outcome, reason=reason, category=category)


def campaign_outcome(
    states: list[DeploymentState], outcomes: dict[str, int], threshold: float
) -> tuple[CampaignState, str] | None:
    """The campaign's final state once every deployment ended (None before), and why. `outcomes` counts the
    devices per Outcome; the threshold applies to the success share (module docstring)."""
    if not all(s.ended for s in states):
        return None
    if DeploymentState.ABORTED in states:
        return CampaignState.ABORTED, "a deployment was aborted"
    if DeploymentState.FAILED in states:
        return CampaignState.FAILED, "a deployment failed"
    total = judged(sum(outcomes.values()), outcomes)
    updated = outcomes.get(Outcome.UPDATED.value, 0)
    if total and updated / total >= threshold:
        return CampaignState.DONE, f"{updated} of {total} devices updated"
    return CampaignState.FAILED, f"only {updated} of {total} devices updated, below the success threshold {threshold:g}"
