"""How devices and campaigns end: a device's outcome once its deployment ended, a campaign's once all did.

Pure functions of what the store holds; the engine calls `outcome_of` when a deployment ends, the runner
`campaign_outcome` once every deployment of a campaign has.

Which device gets which outcome (the first rule that applies):

    1. it has one already                     kept (a device refused at preparation is failed, backend_refused or
                                              the adapter's finer category: a real failure)
    2. the back end reports it done           updated; failed, wrong_version, when the back end reports its firmware
                                              version, it is not the campaign's expected_version, and the versions
                                              can judge (below)
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

Whether the reported versions can judge (`version_anomaly`, once per deployment as it ends): expected_version is
met when a device's reported version becomes equal to it. A back end may fill the field with something else than the
running version (Milesight's 6.7 calls it "Supported firmware version" and its sample sends ""), so when
expected_version is set, some device is done without reporting it, and
    - no device of the deployment ever reported a version, or
    - no device's version ever changed from the first one reported (DeviceProgress.initial_version),
the field cannot tell: no device is failed for its version, the devices are judged by the back end's session codes
alone, and the deployment records one anomaly event saying what was seen (its cause starts with VERSION_ANOMALY).
Otherwise a device done that reports a version other than expected_version is failed, wrong_version.

The success share: updated ÷ judged devices, where judged = devices − aborted − skipped (devices still pending
count, so that the share never runs ahead of the campaign). Only failed and unreachable are failures; aborted and
skipped are deliberate stops, neither in the share nor in alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import CATEGORIES, Category

__all__ = ["VERSION_ANOMALY", "campaign_outcome", "judged", "outcome_of", "version_anomaly"]

# How the cause of version_anomaly's event begins, for the report to find it among the other anomalies.
VERSION_ANOMALY = "firmware versions cannot judge"

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


def version_anomaly(devices: Iterable[DeviceProgress], expected_version: str | None) -> str | None:
    """Why the versions the devices of an ending deployment report cannot judge them against `expected_version`
    (the anomaly's cause, starting with VERSION_ANOMALY), or None when they can or need not (module docstring)."""
    devices = list(devices)
    done = [d for d in devices if d.outcome is None and d.stage is Stage.DONE]
    if not expected_version or all(d.firmware_version == expected_version for d in done):
        return None  # nothing to check: no expected version, no device done, or every one done reports it
    seen = [d for d in devices if d.firmware_version]
    conclusion = (
        f"fuota does not check expected_version {expected_version!r} and judges the devices by the back end's "
        "session codes alone"
    )
    if not seen:
        return f"{VERSION_ANOMALY}: no device of the task reported a firmware version (all empty); {conclusion}"
    if all(d.firmware_version == (d.initial_version or d.firmware_version) for d in seen):
        counts = Counter(d.firmware_version for d in seen).most_common(3)
        versions = ", ".join(f"{v!r} on {n} device{'s' * (n > 1)}" for v, n in counts)
        return (
            f"{VERSION_ANOMALY}: no device's reported firmware version changed during the task ({versions}): the "
            f"field does not look like the version the devices run; {conclusion}"
        )
    return None


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
