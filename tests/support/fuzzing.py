"""Schemathesis against a live service's own OpenAPI: every route, positive and negative cases."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import httpx

CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass
class FuzzReport:
    """What a fuzz run did: cases per route, status codes seen, and every failed check."""

    cases: int = 0
    per_route: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz(url: str, examples_per_route: int, seed: int = 0) -> FuzzReport:
    """Run `examples_per_route` positive and as many negative cases on every operation of the
    live service at `url`; then check it still answers /healthz and /readyz."""
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, given
    from schemathesis import checks as st_checks
    from schemathesis.core.failures import FailureGroup

    checks = [getattr(st_checks, name) for name in CHECK_NAMES]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    report = FuzzReport()
    started = time.perf_counter()
    client = httpx.Client(base_url=url, timeout=60)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in schemathesis.GenerationMode:
                strategy = operation.as_strategy(generation_mode=mode)

                @hypothesis.settings(
                    max_examples=examples_per_route,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    suppress_health_check=list(HealthCheck),
                    phases=[hypothesis.Phase.generate],
                )
                @hypothesis.seed(seed)
                @given(case=strategy)
                def run_case(case: schemathesis.Case) -> None:
                    route = f"{case.operation.method.upper()} {case.operation.path}"
                    response = case.call(base_url=url, timeout=60)
                    report.cases += 1
                    report.per_route[route] = report.per_route.get(route, 0) + 1
                    report.statuses[response.status_code] = (
                        report.statuses.get(response.status_code, 0) + 1
                    )
                    try:
                        case.validate_response(response, checks=checks)
                    # every failed check is recorded and the run goes on; several failed checks
                    # come as one FailureGroup, a BaseExceptionGroup that `Exception` misses
                    except (Exception, FailureGroup) as exc:
                        group = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
                        for failed in group:
                            text = str(failed).strip()
                            first = text.splitlines()[0] if text else ""
                            report.failures.append(
                                f"{route} → {response.status_code}: {type(failed).__name__}: "
                                f"{first} | {case.as_curl_command()[:300]}"
                            )

                # no negative case exists for an operation that takes no input
                with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                    run_case()
        for path in ("/healthz", "/readyz"):
            response = client.get(path)
            if response.status_code != 200:
                report.failures.append(f"after fuzzing GET {path} → {response.status_code}")
    finally:
        client.close()
    report.seconds = time.perf_counter() - started
    return report
