"""The stateful phase of a conform run: schemathesis' state machine over the contract's OpenAPI links.

A link chains an answer into the next request (request an export -> poll its status -> fetch the file). An
operation that answers "not ready yet" declares it with `x-emulator-poll`: `{pointer, while: [values]}` for a
state in the JSON body, `{while-status: [codes]}` for a status; the machine then asks again, waiting between
asks (real time against a server, the virtual clock in-process), for at most the run's poll timeout, so that
the flow reaches the file instead of stopping at "pending". Every value a link extracts is used. A 429 (a rate
limit, or the vendor's limit of pending exports) is waited out the same way, in every mode, for as long as its
Retry-After says when it says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

POLL_STEP = 1.0  # seconds between two asks of a pending export
STEPS = 10  # calls per stateful scenario: room for request -> status -> file after a few lookups


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


def call_waiting(case, kwargs: dict, target, poll: Mapping | None = None):
    """The case's answer once it is neither a documented 429 (a rate limit, or the vendor's limit of pending
    exports) nor, with `poll`, "not ready yet": asked again after Retry-After (or POLL_STEP) for at most the
    poll timeout. An undocumented 429 is answered at once: status_code_conformance reports it."""
    limited = "429" in (case.operation.definition.raw.get("responses") or {})
    response = case.call(**kwargs)
    waited = 0.0
    while (pending(poll or {}, response) or (limited and response.status_code == 429)) \
            and waited < target.poll_timeout:
        step = min(retry_after(response) or POLL_STEP, target.poll_timeout - waited)
        target.wait(step)
        waited += step
        response = case.call(**kwargs)
    return response


def follow_link(step_input) -> None:
    """Use every value the link extracted. Schemathesis leaves some out at random to explore, but a flow
    that drops the download signature (or expiry) cannot reach the file, and would reach it only sometimes."""
    from schemathesis.core.result import Ok

    transition = getattr(step_input, "transition", None)
    if transition is None:
        return
    case = step_input.case
    for container, data in transition.parameters.items():
        target = getattr(case, container, None)
        if target is None:
            target = {}
            setattr(case, container, target)
        for name, extracted in data.items():
            value = extracted.value.ok() if isinstance(extracted.value, Ok) else None
            if isinstance(value, str | int | float):
                target[name] = value


def run_stateful(schema, tally, transport: dict, target, max_examples: int, probes, hints) -> list:
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis.core.errors import NoLinksFound
    from schemathesis.generation.stateful import run_state_machine_as_test

    from . import Row, validate, without_framing_headers

    rows: dict[str, Row] = {}
    schema.config.generation.update(modes=["positive"])  # flows of valid calls; negative data has own rows
    # The contract's own links only: links inferred between lookups would dilute the budget for the flows.
    schema.config.phases.stateful.inference.algorithms = []
    try:
        base = schema.as_state_machine()
    except NoLinksFound:
        return []

    def row_for(case) -> Row:
        row = rows.setdefault(case.operation.label, Row(case.operation.label, "stateful"))
        tally.row = row
        return row

    class Machine(base):  # type: ignore[misc, valid-type]
        def step(self, input):
            follow_link(input)
            return super().step(input)

        def before_call(self, case):
            # cases drawn for a link's target skip the schema's map_case hooks
            hints(None, without_framing_headers(None, case))

        def get_call_kwargs(self, case):
            return dict(transport)

        def call(self, case, **kwargs):
            row_for(case).examples += 1
            return call_waiting(case, kwargs, target, case.operation.definition.raw.get("x-emulator-poll"))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            validate(case, response, row_for(case), transport, probes, additional_checks=additional_checks,
                     recorder=self.recorder)

    try:
        run_state_machine_as_test(Machine, settings=settings(
            max_examples=max_examples, stateful_step_count=STEPS, deadline=None, derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck)))
    except NoLinksFound:
        return []
    except Exception as exc:  # reported as the run's error, not a traceback
        from . import CredentialError

        if isinstance(exc, CredentialError):
            raise
        error = Row("(stateful phase)", "stateful", error=f"{type(exc).__name__}: {exc}")
        return [*rows.values(), error]
    finally:
        tally.row = None
    return sorted(rows.values(), key=lambda r: r.operation)
