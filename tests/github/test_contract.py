"""The emulator's REST answers validate against GitHub's own OpenAPI description (a copy in
tests/contracts/github, see its SOURCE.txt)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

SPEC = json.loads((Path(__file__).parents[1] / "contracts" / "github" / "github-trimmed.json").read_text())


def _validate(path: str, body: object) -> None:
    schema = SPEC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": SPEC["components"]}).validate(body)


@pytest.mark.parametrize("spec_path,url", [
    ("/user", "/user"),
    ("/repos/{owner}/{repo}/pulls", "/repos/octo/demo/pulls?state=all"),
    ("/repos/{owner}/{repo}/issues", "/repos/octo/demo/issues?state=all"),
    ("/repos/{owner}/{repo}/actions/runs", "/repos/octo/demo/actions/runs"),
])
def test_rest_answers_match_openapi(emu, spec_path: str, url: str) -> None:
    resp = httpx.get(emu.api_url + url, headers={"Authorization": f"Bearer {emu.token}"}, verify=ssl.create_default_context(cafile=emu.ca_file))
    assert resp.status_code == 200
    body = resp.json()
    assert body  # something to validate
    _validate(spec_path, body)


def test_validator_catches_a_broken_answer(emu) -> None:
    resp = httpx.get(emu.api_url + "/repos/octo/demo/pulls", verify=ssl.create_default_context(cafile=emu.ca_file))
    body = resp.json()
    del body[0]["head"]
    with pytest.raises(Exception, match="head"):
        _validate("/repos/{owner}/{repo}/pulls", body)
