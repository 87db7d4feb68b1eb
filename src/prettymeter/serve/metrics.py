"""Prometheus metrics of one app (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class Metrics:
    """Requests, latency, batch sizes, queue depth and errors by kind."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "prettymeter_requests_total",
            "HTTP requests answered",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "prettymeter_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.images = Counter(
            "prettymeter_images_total",
            "photos received, by outcome ('scored' or the error code)",
            ["outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "prettymeter_rejected_total",
            "requests refused before any work, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "prettymeter_batch_size",
            "photos per model call",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "prettymeter_inference_seconds",
            "time of one model call (a whole batch)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "prettymeter_images_in_flight",
            "photos admitted and not yet answered (decoding, detecting, queued or running)",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "prettymeter_queue_depth",
            "photos waiting for a model call",
            ["model"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "prettymeter_ready", "1 when every model is loaded", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
