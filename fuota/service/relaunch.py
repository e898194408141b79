"""Launching a campaign file whose name is stored already: resume it as stored, refuse it when the file now says
something else, or — while nothing was sent, with `--update` — store what the file now says.

    differences(store, stored, planned)   every field where the stored campaign and the planned one differ, as
                                          "field: old → new" lines; empty when the file still says what is stored
    relaunch(store, stored, planned, update)
                                          the stored campaign to resume; ConfigError naming the differences
                                          (nothing written) unless `update`, then the stored settings, image and
                                          deployments are replaced — only while nothing was sent

Compared: every setting of CampaignSettings (the back-end table key by key), the image's sha256, the devices and
the deployments the campaign fans out into. Not compared: firmware_path and devices_file, where the image and
the device list were read from (the same content read from elsewhere is the same campaign).
"""

from __future__ import annotations

from typing import Any, Protocol

from fuota.backends.base import DeploymentPlan
from fuota.campaign import Campaign
from fuota.core.model import CampaignState, normalize_eui
from fuota.core.settings import CampaignSettings, ConfigError
from fuota.store import CampaignRecord, NewDeployment, StaleState, Store


class CampaignPlan(Protocol):
    """What is read here of fuota.service.campaigns.CampaignPlan (named here, not imported: it imports this)."""

    @property
    def campaign(self) -> Campaign: ...
    @property
    def settings(self) -> CampaignSettings: ...
    @property
    def deployments(self) -> list[DeploymentPlan]: ...


__all__ = ["differences", "new_deployments", "relaunch"]

_WHERE_READ = {"firmware_path", "devices_file"}
_SHOWN = 5  # devices named per added/removed list


def new_deployments(planned: CampaignPlan) -> list[NewDeployment]:
    """The planned deployments as the store takes them."""
    return [
        NewDeployment(
            backend=d.backend,
            target=d.target,
            task_name=d.task_name,
            temporary=d.temporary,
            devices=list(d.devices),
            plan={
                "nb_frag": d.frag.nb_frag,
                "frag_size": d.frag.frag_size,
                "padding": d.frag.padding,
                "redundancy": d.frag.redundancy,
            },
        )
        for d in planned.deployments
    ]


def differences(store: Store, stored: CampaignRecord, planned: CampaignPlan) -> list[str]:
    """Where the stored campaign and the planned one differ, one "field: old → new" line each (see the module
    docstring for what is compared)."""
    found = []
    old = stored.settings.model_dump(mode="json")
    new = planned.settings.model_dump(mode="json")
    for key in old.keys() | new.keys():
        if key in _WHERE_READ or key == "target" or old.get(key) == new.get(key):
            continue
        found.append(f"{key}: {_show(old.get(key))} → {_show(new.get(key))}")
    old_table, new_table = old.get("target") or {}, new.get("target") or {}
    for key in old_table.keys() | new_table.keys():
        if old_table.get(key) != new_table.get(key):
            table = f"[{planned.settings.kind}] {key}"
            found.append(f"{table}: {_show(old_table.get(key))} → {_show(new_table.get(key))}")
    if stored.firmware_sha256 != planned.campaign.sha256:
        found.append(f"firmware: sha256 {stored.firmware_sha256[:12]}… → {planned.campaign.sha256[:12]}…")
    had = {d.dev_eui for d in store.devices(campaign_id=stored.id)}
    has = {normalize_eui(e) for e in planned.campaign.devices}
    if had != has:
        changes = f"{_listed('added', has - had)}, {_listed('removed', had - has)}"
        found.append(f"devices: {len(had)} → {len(has)} ({changes})")
    # A temporary target is named only once the runner created it: the plan's is None, the stored one may not be.
    old_fanout = sorted(_fanned(d.task_name, d.target, d.temporary, d.plan) for d in store.deployments(stored.id))
    new_fanout = sorted(_fanned(d.task_name, d.target, d.temporary, d.plan) for d in new_deployments(planned))
    if old_fanout != new_fanout:
        found.append(f"deployments: {_fanout(old_fanout)} → {_fanout(new_fanout)}")
    return sorted(found)


def relaunch(store: Store, stored: CampaignRecord, planned: CampaignPlan, *, update: bool) -> CampaignRecord:
    """The stored campaign of the planned one's name, to resume (see the module docstring); ConfigError, nothing
    written, when it cannot be."""
    name = planned.campaign.name
    if stored.state.ended:
        raise ConfigError(
            f"name = {name!r}: that campaign already ended ({stored.state}); give the new one another name "
            "(`fuota status` shows what happened to it)"
        )
    changed = differences(store, stored, planned)
    if not changed:
        return stored
    listed = "; ".join(changed)
    if not update:
        hint = (
            "`fuota launch --update FILE` stores the new ones (it is still Scheduled)"
            if stored.state is CampaignState.SCHEDULED
            else "it has started: abort it (`fuota abort`) and launch the file under another name"
        )
        raise ConfigError(
            f"campaign {stored.id} ({name}) is stored with other settings than the file now gives: {listed}. "
            f"Nothing was changed. Restore the file to resume it as stored, or {hint}"
        )
    try:
        store.update_scheduled(
            stored.id,
            planned.settings,
            planned.campaign.firmware,
            new_deployments(planned),
            f"settings updated with `fuota launch --update`: {listed}",
        )
    except StaleState as exc:
        raise ConfigError(f"campaign {stored.id} ({name}): --update refused, nothing was changed: {exc}") from exc
    updated = store.campaign(stored.id)
    assert updated is not None  # it was there inside the transaction that updated it
    return updated


def _show(value: Any) -> str:
    return "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)


def _listed(verb: str, euis: set[str]) -> str:
    shown = ", ".join(sorted(euis)[:_SHOWN])
    more = f" and {len(euis) - _SHOWN} more" if len(euis) > _SHOWN else ""
    return f"{len(euis)} {verb}" + (f": {shown}{more}" if euis else "")


def _fanned(
    task: str, target: str | None, temporary: bool, plan: dict[str, object] | None
) -> tuple[str, str | None, bool, tuple[tuple[str, str], ...]]:
    return task, None if temporary else target, temporary, tuple(sorted((k, str(v)) for k, v in (plan or {}).items()))


def _fanout(deployments: list[tuple[str, str | None, bool, tuple[tuple[str, str], ...]]]) -> str:
    parts = []
    for task, target, _, plan in deployments:
        frag = dict(plan)
        fragments = f"{frag.get('nb_frag', '?')}+{frag.get('redundancy', '?')}×{frag.get('frag_size', '?')} B"
        parts.append(f"{task} ({target or 'new group'}, {fragments})")
    return ", ".join(parts) or "none"
