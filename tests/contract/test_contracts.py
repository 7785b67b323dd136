"""Schemathesis over every contract in contracts/, in-process (positive and negative data, all checks).

Live mode: the same operations against the real vendor when `<VENDOR>_BASE_URL` and its credentials are
set; skipped otherwise, with the reason shown. Never faked.
"""

from __future__ import annotations

import pytest

from emulator.contracts import all_contract_files

from .harness import HYPOTHESIS, live_target, load_schema, merge_auth, meta, skipped_checks, vendor_hooks

CONTRACTS = all_contract_files()


def test_every_vendor_has_a_contract():
    vendors = {meta(f).get("vendor") for f in CONTRACTS}
    assert {"control", "apsis", "expertsender", "netcore"} <= vendors


def _in_process_test(filename: str):
    schema = load_schema(filename)
    schema.config.update(base_url="http://localhost" + meta(filename).get("prefix", ""))

    @schema.parametrize()
    @HYPOTHESIS
    def test(case, app):
        hooks = vendor_hooks(filename)
        auth = hooks.contract_auth(app.config["EMULATOR_CORE"]) if hooks else {}
        headers = merge_auth(case, auth)
        case.operation.schema.app = app  # every call, also schemathesis' own probes (ignored_auth), goes to this app
        # app.test_client(): no cookie jar, which cannot parse ExpertSender's TIMEZONE cookie (emulator.app)
        case.call_and_validate(app=app, session=app.test_client(), headers=headers,
                               excluded_checks=skipped_checks(case))

    return test


def _live_test(filename: str):
    schema = load_schema(filename)
    base_url, auth, reason = live_target(filename)
    if base_url is None:
        @pytest.mark.live
        def skipped():
            pytest.skip(reason)
        return skipped
    schema.config.update(base_url=base_url)

    @pytest.mark.live
    @schema.parametrize()
    @HYPOTHESIS
    def test(case):
        headers = merge_auth(case, auth or {})
        case.call_and_validate(headers=headers, excluded_checks=skipped_checks(case))

    return test


for _file in CONTRACTS:
    _name = _file.removesuffix(".openapi.yaml").replace("-", "_").replace(".", "_")
    globals()[f"test_contract_{_name}"] = _in_process_test(_file)
    if meta(_file).get("vendor") != "control":
        globals()[f"test_live_contract_{_name}"] = _live_test(_file)
