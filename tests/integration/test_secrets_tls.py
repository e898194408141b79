"""Secrets at rest and certificates: a configuration holding a secret and readable by others draws a warning;
HTTPS certificates are verified (a self-signed server is refused at once, trusted with its CA as ca_file, or
accepted with `insecure = true` and a warning); MQTT over TLS accepts an unknown CA when insecure
(test_backend_milesight shows it refused otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from tests.integration.test_backend_milesight import GW, make
from tests.support.broker import Broker, make_tls_files
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, write_campaign, write_config
from tests.support.milesight_responder import Responder, paged

FIRMWARE = np.random.default_rng(52).bytes(800)


def test_a_secret_in_a_file_others_can_read_draws_a_warning(tmp_path: Path) -> None:
    config = write_config(tmp_path, iotsquare("http://127.0.0.1:9"))
    config.chmod(0o644)
    warned = fuota(tmp_path, "list").stderr
    assert "holds secrets (backends.iot.token)" in warned and "mode 0644" in warned and "chmod 600" in warned
    assert "sim-token" not in warned
    config.chmod(0o600)
    assert "holds secrets" not in fuota(tmp_path, "list").stderr
    config.write_text(config.read_text().replace('token = "sim-token"', 'token_env = "FUOTA_TEST_TOKEN"'))
    config.chmod(0o644)
    assert "holds secrets" not in fuota(tmp_path, "list", env={"FUOTA_TEST_TOKEN": "x"}).stderr


@pytest.fixture
def https_sim(tmp_path: Path) -> IoTSquareSim:
    tls = make_tls_files(tmp_path)
    euis = fleet_euis(5, seed=53)
    with IoTSquareSim(
        devices=euis, speed=100, join_delay=1, fragment_interval=2, tls=(str(tls.cert), str(tls.key))
    ) as sim:
        write_campaign(tmp_path, "tls", euis, firmware=FIRMWARE, join_timeout=2)
        yield sim


def test_an_untrusted_https_server_is_refused_at_once(tmp_path: Path, https_sim: IoTSquareSim) -> None:
    write_config(tmp_path, iotsquare(https_sim.url))
    result = fuota(tmp_path, "run", "c.toml", timeout=60)
    assert result.returncode != 0
    assert "certificate is not trusted" in result.stderr and "ca_file" in result.stderr
    assert https_sim.calls["fuota/create"] == 0


def test_an_https_server_is_trusted_with_its_ca(tmp_path: Path, https_sim: IoTSquareSim) -> None:
    write_config(tmp_path, iotsquare(https_sim.url, ca_file=tmp_path / "ca.pem"))
    result = fuota(tmp_path, "run", "c.toml", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "insecure" not in result.stderr


def test_insecure_accepts_any_certificate_and_says_so(tmp_path: Path, https_sim: IoTSquareSim) -> None:
    write_config(tmp_path, iotsquare(https_sim.url, insecure=True))
    result = fuota(tmp_path, "run", "c.toml", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "insecure = true: its server's certificate is not verified" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('insecure = true\nca_file = "ca.pem"\n', "either ca_file"),
        ("insecure = true\n", "apply to https:// only"),
    ],
)
def test_contradictory_tls_settings_are_refused(tmp_path: Path, extra: str, message: str) -> None:
    write_config(tmp_path, iotsquare("http://127.0.0.1:9"), extra=extra)
    result = fuota(tmp_path, "list")
    assert result.returncode == 2 and message in result.stderr


def test_mqtt_tls_insecure_accepts_an_unknown_ca(mqtt_tls_broker: Broker) -> None:
    with Responder(mqtt_tls_broker, GW).on(
        "GET", "/api/urdevices", paged([{"devEUI": "24E1247151234568"}], "deviceResult")
    ):
        adapter = make(mqtt_tls_broker, tls_insecure=True)
        assert adapter.locate([GW], ["24e1247151234568"]) == {"24e1247151234568": GW}
        adapter.close()
