"""schemathesis against /api/v1/openapi.json on a live server, exactly as a maintainer runs it by
hand: the `schemathesis run` command line with every check (`--checks all`) in every phase
(examples, coverage, fuzzing, stateful through the document's links) and the repository's
schemathesis.toml. Generated requests, hostile ones included, must get no server error, every
response must match the document, and the API must accept what the document calls valid and
refuse what it calls invalid. The shopper's session cookie and CSRF token go on every request,
so the generated requests reach past the 403s to the real handlers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.live import HttpShopper, serve

ROOT = Path(__file__).resolve().parent.parent
# Capped so the whole run stays under a minute; the coverage phase is not capped by it.
EXAMPLES = 15
PHASES = "examples,coverage,fuzzing,stateful"


def test_the_api_does_what_its_openapi_document_says(app, tmp_path, make_product):
    with serve(app) as base:
        shopper = HttpShopper(base)
        # A cart with a line and history, so links and paths with ids can hit something real.
        status, _ = shopper.call("POST", "/cart/lines", {"sku": make_product(), "quantity": 2})
        assert status == 200
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{base}/api/v1/openapi.json",
            "--url",
            f"{base}/api/v1",
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--max-examples",
            str(EXAMPLES),
            "--header",
            f"Cookie: {shopper.cookie}",
            "--header",
            f"X-CSRF-Token: {shopper.csrf}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ]
        if os.environ.get("CI") == "true":
            command += ["--seed", "1"]  # the same requests on every CI run
        env = {**os.environ, "NO_COLOR": "1"}
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    # Every phase ran (none skipped as not applicable) and every operation was tested.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-4000:]
    assert "Tested: 7" in report, report[-4000:]
