"""What `fuota plan` shows of a planned campaign, and the duty-cycle rule `plan` and `launch` apply.

    forecast(config, planned, …)      JSON-ready: the deployments with their pacing, duty cycle, duration and share
                                      decoding; the campaign's finish time and total duration; the checks the back
                                      end ran; warnings (duty cycle, forecast below success_threshold) with fixes
    duty_cycle_issues(config, planned, strict)
                                      the deployments whose interval breaches the duty cycle; ConfigError (exit 2)
                                      naming the fields when `strict` or the back end's strict_duty_cycle says so

Every number comes from fuota.planning with the pacing the back end's kind says it sends (BackendKind.pacing), each
deployment's own where the kind gives one per target (Pacing.at: a Milesight gateway's channel plan).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fuota.backends.registry import kind_of
from fuota.config import Config
from fuota.core.settings import ConfigError
from fuota.planning.forecast import forecast as forecast_deployment
from fuota.planning.forecast import recommendation, sweep_table
from fuota.planning.pacing import duty_cycle, pace
from fuota.service.planned import CampaignPlan

__all__ = ["SWEEP_LOSSES", "duty_cycle_issues", "forecast", "strict_duty_cycle"]

SWEEP_LOSSES = [0.02, 0.05, 0.1, 0.15, 0.2]


def strict_duty_cycle(config: Config, planned: CampaignPlan) -> bool:
    """Whether the campaign's back end refuses duty-cycle breaches (`strict_duty_cycle = true` in its table)."""
    return bool(getattr(config.backend(planned.settings.backend), "strict_duty_cycle", False))


def duty_cycle_issues(config: Config, planned: CampaignPlan, strict: bool = False) -> list[str]:
    """The warnings of deployments whose fragment interval is shorter than the duty cycle allows (one per distinct
    fragmentation); ConfigError naming the fields instead when `strict` or the back end is strict. Computes no
    Monte Carlo: `launch` calls it."""
    settings = planned.settings
    pacing = kind_of(settings.kind).pacing(settings.target)
    if pacing.interval_ms is None:
        return []  # the back end paces by itself: it keeps to the duty cycle
    warnings: list[str] = []
    seen: set[tuple[object, ...]] = set()
    for d in planned.deployments:
        frag, own = d.frag, pacing.at(d.target)
        if (frag, own.region, own.dr) in seen:
            continue  # one check per distinct fragmentation and pacing
        seen.add((frag, own.region, own.dr))
        try:
            speed = pace(frag.frag_size, own.region, own.dr, own.interval_ms)
        except (KeyError, ValueError):
            continue  # a region or data rate fuota's tables lack: nothing to check against
        found = duty_cycle(speed, frag.total, own.max_interval_ms)
        if found["warning"] and found["warning"] not in warnings:
            warnings.append(found["warning"])
    if warnings and (strict or strict_duty_cycle(config, planned)):
        why = "--strict-duty-cycle" if strict else f"backends.{settings.backend}.strict_duty_cycle = true"
        raise ConfigError(f"refused by {why}: [{settings.kind}] {warnings[0]}")
    return warnings


def forecast(
    config: Config,
    planned: CampaignPlan,
    *,
    loss: float | None = None,
    target: float | None = None,
    sweep: bool = False,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """What `fuota plan` shows, JSON-ready: the firmware, the deployments each with its fragmentation and forecast
    (pacing, duty cycle, duration, share decoding at `loss`, by default the campaign's expected_loss), the
    campaign's finish time and total duration, the checks run, warnings, the smallest redundancy reaching `target`
    and a redundancy × loss sweep. `progress` is told the share done of each Monte Carlo as it runs."""
    settings = planned.settings
    rate = settings.expected_loss if loss is None else loss
    pacing = kind_of(settings.kind).pacing(settings.target)
    deployments = [
        {
            "task_name": d.task_name,
            "backend": d.backend,
            "target": d.target or "(new group)",
            "temporary": d.temporary,
            "devices": len(d.devices),
            "region": own.region,
            "plan": forecast_deployment(
                d.frag, region=own.region, dr=own.dr, interval_ms=own.interval_ms,
                max_interval_ms=own.max_interval_ms, expected_loss=rate,
                success_threshold=settings.success_threshold, start=settings.start, progress=progress,
            ),
        }
        for d in planned.deployments
        for own in [pacing.at(d.target)]
    ]  # fmt: skip
    data: dict[str, Any] = {
        "name": planned.campaign.name,
        "firmware": {"size": len(planned.campaign.firmware), "sha256": planned.campaign.sha256},
        "devices": len(planned.campaign.devices),
        "success_threshold": settings.success_threshold,
        "estimated": pacing.interval_ms is None,
        "strict_duty_cycle": strict_duty_cycle(config, planned),
        **_totals(config, planned, deployments),
        "checks": list(planned.checks),
        "warnings": _warnings(deployments, settings.success_threshold),
        "deployments": deployments,
    }
    if target is not None and deployments:
        first = deployments[0]["plan"]
        data["recommendations"] = [
            recommendation(first["nb_frag"], first["redundancy"], first["interval_ms"], target, rate, progress=progress)
        ]
    if sweep and planned.deployments:
        m = planned.deployments[0].frag.nb_frag
        steps = sorted({round(m * f / 100) for f in range(0, 101, 10)})
        data["sweep"] = sweep_table(m, steps, SWEEP_LOSSES)
    return data


def _totals(config: Config, planned: CampaignPlan, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    """The campaign's total duration (deployments run side by side, `max_concurrent` at a time) and finish time."""
    durations = sorted((d["plan"]["expected_duration_s"] for d in deployments), reverse=True)
    if not durations or None in durations:
        return {"total_duration_s": None, "finish_at": None}
    at_once = config.backend(planned.settings.backend).max_concurrent or len(durations)
    # Longest first, each wave as long as its longest deployment: an upper bound the daemon's queue stays under.
    total = sum(durations[i] for i in range(0, len(durations), at_once))
    begins = planned.settings.start or datetime.now(UTC)
    try:
        finish = (begins + timedelta(seconds=total)).isoformat(timespec="seconds")
    except OverflowError:
        finish = None
    return {"total_duration_s": round(total, 1), "finish_at": finish}


def _warnings(deployments: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """One warning per distinct problem: duty-cycle breaches and forecasts below the success threshold."""
    found: list[dict[str, Any]] = []
    for d in deployments:
        plan = d["plan"]
        cycle = plan.get("duty_cycle")
        if cycle and cycle["warning"]:
            found.append({"kind": "duty_cycle", "text": cycle["warning"], "fixes": cycle["fixes"]})
        if (below := plan.get("below_threshold")) is not None:
            found.append({"kind": "success_threshold", "text": _below_text(plan, below, threshold), "fixes": {
                "redundancy_percent": below.get("redundancy_percent")}})  # fmt: skip
    unique: list[dict[str, Any]] = []
    for warning in found:
        if warning not in unique:
            unique.append(warning)
    return unique


def _below_text(plan: dict[str, Any], below: dict[str, Any], threshold: float) -> str:
    forecast_text = (
        f"{100 * plan['p_decode']:.1f} % of devices are forecast to decode at {100 * plan['expected_loss']:g} % "
        f"fragment loss, below success_threshold = {threshold:g}"
    )
    if below["redundancy"] is None:
        return f"{forecast_text}; no redundancy up to {below['why'].split('up to ')[-1]} reaches it: lower the loss"
    percent = below["redundancy_percent"]
    reach = f"{100 * below['p_decode']:.1f} %"
    fits = "" if percent <= 100 else " (beyond the 100 % a back end accepts: lower the loss or the threshold)"
    coded = below["redundancy"]
    return f"{forecast_text}: redundancy_percent = {math.ceil(percent)} ({coded} coded) reaches {reach}{fits}"
