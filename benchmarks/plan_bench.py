"""`fuota plan` as an operator runs it: the command in a subprocess against the IoTSquare simulator on loopback,
300 registered devices (two temporary groups), every back-end check included; and `plan --target 0.95 --loss 0.25`.

The plain baseline, measured in the same run, is the same command with the forecast as fuota computed it before
(issue 14): the Monte Carlo once per deployment with codec.decodable at the plan's redundancy (2000 trials whatever
the image), and for `--target` a bisection calling codec.decodable at each step. It is the command's time with
today's forecast compute (measured in-process) replaced by the previous one's: start-up and back-end checks count
the same on both sides.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import codec
from benchmarks.report import Figure
from benchmarks.timing import best_of, once
from fuota.planning import forecast as forecasting
from fuota.planning.decoding import received_iid
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis

DEVICES = 300
PLAIN_TRIALS = 2000  # what the previous forecast drew, whatever the image
SUBSET = 200  # above 500 fragments the previous forecast is timed on this many trials and scaled (it is linear)
GEN_APP_KEY = "504e83e6dd1a457af1bf93f99d362e89"


def _write(folder: Path, url: str, size: int) -> None:
    euis = fleet_euis(DEVICES)
    (folder / "fw.bin").write_bytes(np.random.default_rng(size).bytes(size))
    (folder / "devices.csv").write_text("dev_eui\n" + "".join(f"{eui}\n" for eui in euis))
    config = folder / "fuota.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{folder / "fuota.db"}"\n\n'
        f'[backends.iot]\nkind = "iotsquare"\nbase_url = "{url}"\ntoken = "sim-token"\n'
    )
    config.chmod(0o600)
    (folder / "c.toml").write_text(
        'name = "bench"\nfirmware = "fw.bin"\nbackend = "iot"\ndevices_file = "devices.csv"\nredundancy_percent = 30\n'
        f'\n[iotsquare]\nregion = "eu868"\nsubnet = "ch_00-07"\ngen_app_key = "{GEN_APP_KEY}"\n'
    )


def _command(folder: Path, *args: str) -> dict:
    command = [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "plan", "c.toml", "--json"]
    result = subprocess.run([*command, *args], cwd=folder, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"fuota plan failed: {result.stderr}")
    return json.loads(result.stdout)


def _plain_forecast(nb_frag: int, redundancy: int, deployments: int, loss: float, trials: int) -> None:
    for _ in range(deployments):
        received = received_iid(trials, nb_frag + redundancy, loss, np.random.default_rng(0))
        codec.decodable(nb_frag, redundancy, received)


def _plain_target(nb_frag: int, redundancy: int, target: float, loss: float, trials: int) -> None:
    ceiling = min(codec.MAX_COUNTER - nb_frag, max(4 * redundancy, nb_frag))
    received = received_iid(trials, nb_frag + ceiling, loss, np.random.default_rng(0))
    low, high = 0, ceiling
    if codec.decodable(nb_frag, ceiling, received).mean() < target:
        return
    while low < high:
        middle = (low + high) // 2
        if codec.decodable(nb_frag, middle, received[:, : nb_frag + middle]).mean() >= target:
            high = middle
        else:
            low = middle + 1


def _fuota_compute(size: int, deployments: int, loss: float, target: float | None) -> None:
    """Today's forecast compute of the same plan, caches emptied: what the command spends beyond start-up and checks."""
    frag = codec.plan(size, 48, percent=30, rounding=codec.Rounding.IOTSQUARE)
    forecasting.forget()  # the command starts with an empty cache too
    for _ in range(deployments):
        forecasting.forecast(frag, region="EU868", expected_loss=loss, success_threshold=0.9)
    if target is not None:
        forecasting.recommendation(frag.nb_frag, frag.redundancy, None, target, loss)


def plan_command(size: int, target: float | None = None, loss: float | None = None) -> Figure:
    """Time `fuota plan` (with `--target`/`--loss` when given) for a `size`-byte image and 300 devices."""
    args = [] if target is None else ["--target", str(target)]
    args += [] if loss is None else ["--loss", str(loss)]
    with IoTSquareSim(devices=fleet_euis(DEVICES), speed=0) as sim, tempfile.TemporaryDirectory() as folder:
        _write(Path(folder), sim.url, size)
        seconds, data = best_of(lambda: _command(Path(folder), *args), 3)
    first = data["deployments"][0]["plan"]
    m, r, rate, deployments = first["nb_frag"], first["redundancy"], first["expected_loss"], len(data["deployments"])
    ours, _ = once(lambda: _fuota_compute(size, deployments, rate, target))
    trials = PLAIN_TRIALS if m <= 500 else SUBSET
    scaled = "" if trials == PLAIN_TRIALS else f", {trials}/{PLAIN_TRIALS} trials, scaled"
    if target is None:
        previous, _ = once(lambda: _plain_forecast(m, r, deployments, rate, trials))
        note, limit_s = f"same command, previous forecast ({deployments} × decodable{scaled})", 2.0
    else:
        previous, _ = once(
            lambda: (_plain_forecast(m, r, deployments, rate, trials), _plain_target(m, r, target, rate, trials))
        )
        note, limit_s = f"same command, previous forecast and bisection over decodable{scaled}", 10.0
    plain = max(seconds - ours, 0.0) + previous * PLAIN_TRIALS / trials
    checked = any("registered" in line for line in data["checks"])
    found = target is None or data["recommendations"][0]["redundancy"] is not None
    name = f"fuota plan, {DEVICES} devices, {size} B (M {m})" + (f" --target {target} --loss {loss}" if target else "")
    return Figure(
        name=name,
        fuota=seconds,
        runs=3,
        plain=plain,
        plain_note=note,
        target=limit_s,
        reference="issue 14",
        ok=checked and found,
        check_note=f"{first['trials']} trials, back end checked",
    )
