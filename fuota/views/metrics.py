"""The daemon's Prometheus metrics, served at /metrics of `fuota daemon --http`.

What the store knows — campaigns by state, devices by stage and outcome, anomalies and retries — is read through
the read model (fuota.views.model.fleet_counts) at scrape time by a custom collector, so the numbers are the
store's own, whichever process wrote them, and the same as every other front end's. What only this daemon sees is
counted as it happens: every back-end call (through fuota.backends.metered, a thin wrapper around each Backend) with its
result and latency, the adapters' retries (stamina's on-retry hook), and how late each due campaign is ticked (the
poll lag).

    fuota_campaigns{state}                              gauge, from the store
    fuota_devices{stage, outcome}                       gauge, from the store (outcome "none" until it has one);
                                                        outcome is updated, failed, unreachable, aborted or skipped:
                                                        alert on failed and unreachable only, the real failures
    fuota_device_reasons{category, outcome}             gauge, devices not updated by reason category
                                                        (fuota.core.reasons) and outcome
    fuota_anomalies_total                               counter, anomaly events in the store
    fuota_retries_total                                 counter, retry events in the store (a runner's retries)
    fuota_backend_calls_total{backend, operation, result}      result "ok" or the error's class name
    fuota_backend_call_seconds{backend, operation}      histogram of the calls' latency
    fuota_backend_retries_total{backend, operation, error}     retries inside an adapter, by the error retried
    fuota_poll_lag_seconds                              histogram: how long after it was due a campaign is ticked
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from stamina.instrumentation import RetryDetails

from fuota.backends.base import Backend
from fuota.backends.metered import MeteredBackend
from fuota.store import Store
from fuota.views.model import fleet_counts

__all__ = ["CONTENT_TYPE", "DaemonMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

T = TypeVar("T")


class _StoreCollector(Collector):
    """The read model's fleet counts (fuota.views.model.fleet_counts), read at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        fleet = fleet_counts(self.store)
        campaigns = GaugeMetricFamily("fuota_campaigns", "Campaigns in the store by state.", labels=["state"])
        for state, n in fleet.campaigns.items():
            campaigns.add_metric([state], n)
        yield campaigns
        devices = GaugeMetricFamily(
            "fuota_devices", "Devices of every campaign by stage and outcome.", labels=["stage", "outcome"]
        )
        for (stage, outcome), n in sorted(fleet.devices.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            devices.add_metric([stage, outcome or "none"], n)
        yield devices
        reasons = GaugeMetricFamily(
            "fuota_device_reasons",
            "Devices that did not end updated, by reason category and outcome.",
            labels=["category", "outcome"],
        )
        for (category, outcome), n in sorted(fleet.reasons.items()):
            reasons.add_metric([category, outcome], n)
        yield reasons
        anomalies = CounterMetricFamily("fuota_anomalies", "Anomaly events recorded in the store.")
        anomalies.add_metric([], fleet.anomalies)
        yield anomalies
        retries = CounterMetricFamily(
            "fuota_retries", "Transient back-end failures the runners recorded and retried (retry events)."
        )
        retries.add_metric([], fleet.retries)
        yield retries


class DaemonMetrics:
    """The daemon's registry: the store collector plus what the daemon counts itself."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.calls = Counter(
            "fuota_backend_calls",
            "Back-end calls by back end, operation and result.",
            ["backend", "operation", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fuota_backend_call_seconds",
            "Latency of back-end calls, retries inside the adapter included.",
            ["backend", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "fuota_backend_retries",
            "Requests an adapter retried after a transient failure.",
            ["backend", "operation", "error"],
            registry=self.registry,
        )
        self.poll_lag = Histogram(
            "fuota_poll_lag_seconds",
            "How long after its due time a campaign was ticked.",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self._calling = threading.local()  # which back-end call a retry on this thread belongs to

    def wrap(self, backends: dict[str, Backend]) -> dict[str, Backend]:
        """The same back ends, each behind a MeteredBackend."""
        return {name: MeteredBackend(backend, name, self.measure) for name, backend in backends.items()}

    def on_retry(self, details: RetryDetails) -> None:
        """stamina's on-retry hook (stamina.instrumentation.set_on_retry_hooks): count the retry against the
        back-end call under way on this thread."""
        backend, operation = getattr(self._calling, "call", ("unknown", "unknown"))
        self.retries.labels(backend, operation, type(details.caused_by).__name__).inc()

    def measure(self, backend: str, operation: str, call: Callable[[], T]) -> T:
        """Run one back-end call, counting it by result and timing it."""
        self._calling.call = (backend, operation)
        began = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self.calls.labels(backend, operation, type(exc).__name__).inc()
            raise
        else:
            self.calls.labels(backend, operation, "ok").inc()
            return result
        finally:
            self.latency.labels(backend, operation).observe(time.perf_counter() - began)
            self._calling.call = ("unknown", "unknown")

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
