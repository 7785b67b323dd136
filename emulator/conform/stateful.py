"""The stateful phase of a conform run: schemathesis' state machine over the contract's OpenAPI links.

A link chains an answer into the next request (request an export -> poll its status -> fetch the file). An
operation that answers "not ready yet" declares it with `x-emulator-poll`: `{pointer, while: [values]}` for a
state in the JSON body, `{while-status: [codes]}` for a status; the machine then asks again, waiting between
asks (real time against a server, the virtual clock in-process), for at most the run's poll timeout, so that
the flow reaches the file instead of stopping at "pending". A 429 (a rate limit, or the vendor's limit of
pending exports) is waited out the same way, for as long as its Retry-After says when it says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

POLL_STEP = 1.0  # seconds between two asks of a pending export


def pending(poll: Mapping, response) -> bool:
    if response.status_code in (poll.get("while-status") or []):
        return True
    if "pointer" in poll and response.status_code == 200:
        try:
            node: Any = json.loads(response.content)
            for part in poll["pointer"].strip("/").split("/"):
                node = node[part]
        except (ValueError, KeyError, TypeError):
            return False
        return node in (poll.get("while") or [])
    return False


def retry_after(response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None


def run_stateful(schema, tally, transport: dict, target, max_examples: int, probes) -> list:
    from hypothesis import HealthCheck, settings
    from schemathesis.core.errors import NoLinksFound
    from schemathesis.generation.stateful import run_state_machine_as_test

    from . import Row, validate

    rows: dict[str, Row] = {}
    schema.config.generation.update(modes=["positive"])  # flows of valid calls; negative data has its own rows
    try:
        base = schema.as_state_machine()
    except NoLinksFound:
        return []

    def row_for(case) -> Row:
        row = rows.setdefault(case.operation.label, Row(case.operation.label, "stateful"))
        tally.row = row
        return row

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            return dict(transport)

        def call(self, case, **kwargs):
            row_for(case).examples += 1
            response = case.call(**kwargs)
            poll = case.operation.definition.raw.get("x-emulator-poll") or {}
            waited = 0.0
            while (pending(poll, response) or response.status_code == 429) and waited < target.poll_timeout:
                step = min(retry_after(response) or POLL_STEP, target.poll_timeout - waited)
                target.wait(step)
                waited += step
                response = case.call(**kwargs)
            return response

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            validate(case, response, row_for(case), kwargs, probes, additional_checks=additional_checks,
                     recorder=self.recorder)

    try:
        run_state_machine_as_test(Machine, settings=settings(
            max_examples=max_examples, stateful_step_count=6, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck)))
    except NoLinksFound:
        return []
    except Exception as exc:  # noqa: BLE001  (reported as the run's error, not a traceback)
        from . import CredentialError

        if isinstance(exc, CredentialError):
            raise
        error = Row("(stateful phase)", "stateful", error=f"{type(exc).__name__}: {exc}")
        return [*rows.values(), error]
    finally:
        tally.row = None
    return sorted(rows.values(), key=lambda r: r.operation)
