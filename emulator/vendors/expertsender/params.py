"""Request checks for ExpertSender: the contract's parameter rules, names and values case-insensitive.

ASP.NET MVC binds query parameters by case-insensitive name, and enum values case-insensitively, so
`apikey=` and `type=clicks` work as on the real API. Unknown parameters are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...contracts import contract
from ..base import core_of  # noqa: F401  (re-exported for views)

CONTRACT = contract("expertsender-v2.openapi.yaml")


class BadRequest(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check(method: str, path: str, query: Mapping[str, str], path_values: Mapping[str, str] | None = None,
          ) -> dict[str, Any]:
    """Coerced values by the contract; BadRequest(400) naming the parameter and the rule."""
    op = CONTRACT.op(method, path)
    normalised = {k.lower(): v for k, v in query.items()}
    for param in op.parameters:  # canonical spelling of enum values given in any case
        enum = param.get("schema", {}).get("enum")
        key = param["name"].lower()
        if enum and key in normalised:
            match = [v for v in enum if str(v).lower() == normalised[key].strip().lower()]
            if match:
                normalised[key] = match[0]
    values, issues = op.check(normalised, path_values=path_values, case_insensitive_query=True)
    if issues:
        issue = issues[0]
        raise BadRequest(400, f"Invalid '{issue.field}' parameter: {issue.message}.")
    return values
