"""``storefront worker --metrics HOST:PORT``: a worker run apart from the web serves its own
counts (the emails it sends), which the web's /metrics cannot see, under the same rules."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sys
import urllib.error
import urllib.request

import pytest

from e2e.processes import ROOT, flask_cli
from storefront import jobs, worker_metrics
from tests import daemons
from tests.metrics_text import grew, names, parse
from tests.ports import free_port
from tests.test_mail import queue_one

TOKEN = "scrape-me-0123456789"


def get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


@pytest.fixture
def served(app):
    server = worker_metrics.serve(app, "127.0.0.1:0")
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def settings():
    # Forwarded-for headers would be believed on the web's port; there is no proxy here.
    return {"STOREFRONT_PROXY_HOPS": "1"}


def scrape(base: str):
    status, text = get(f"{base}/metrics", **{"X-Forwarded-For": "203.0.113.9"})
    assert status == 200, text
    return parse(text)


def test_an_email_the_worker_sends_shows_in_its_own_metrics(app, served):
    before = scrape(served)
    queue_one(app)
    with app.app_context():
        assert jobs.run_once().mail.sent == 1
    after = scrape(served)
    assert (
        grew(before, after, "storefront_emails_total", kind="password_reset", outcome="sent") == 1
    )
    assert "storefront_jobs_pending" in names(after)


def test_only_metrics_is_served_there(served):
    for path in ("/", "/cart", "/api/v1/cart", "/healthz", "/metrics/"):
        status, text = get(served + path)
        assert status == 404 and "storefront_" not in text, path


@pytest.mark.parametrize("settings", [{"STOREFRONT_METRICS_TOKEN": TOKEN}])
def test_with_a_token_only_its_bearer_may_scrape(served):
    status, text = get(f"{served}/metrics")
    assert status == 403 and "storefront_" not in text
    assert get(f"{served}/metrics", Authorization="Bearer wrong-token-0123456789")[0] == 403
    status, text = get(f"{served}/metrics", Authorization=f"Bearer {TOKEN}")
    assert status == 200 and "storefront_emails_total" in text


@pytest.mark.parametrize("given", ["nope", "127.0.0.1", ":9101", "127.0.0.1:port", "[::1]:70000"])
def test_an_address_that_is_not_host_and_port_is_refused_before_anything_runs(app, given):
    result = app.test_cli_runner().invoke(args=["worker", "--metrics", given])
    assert result.exit_code == 2
    assert "is not HOST:PORT" in result.output
    assert "running jobs" not in result.output


def test_a_worker_writing_into_the_webs_metrics_folder_does_not_serve_them_again(
    app, monkeypatch, tmp_path
):
    """With PROMETHEUS_MULTIPROC_DIR in its environment the worker's values are in the web's
    answer already: a second target would count them twice."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    result = app.test_cli_runner().invoke(args=["worker", "--metrics", "127.0.0.1:0"])
    assert result.exit_code == 1
    assert "the web's /metrics already counts this worker" in result.output
    assert "running jobs" not in result.output


def started_in_the_background() -> None:
    """As a shell starts a background job: SIGINT ignored, which Python would then leave so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_the_worker_command_serves_its_metrics_until_it_is_stopped(tmp_path, how):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_")},
        "STOREFRONT_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(32),
        "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "STOREFRONT_MEDIA_DIR": str(tmp_path / "media"),
        "STOREFRONT_WORKER_METRICS": f"127.0.0.1:{port}",  # as the systemd unit's env file sets it
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    flask_cli(env, "db", "upgrade")
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "worker.log"

    def answers() -> bool:
        try:
            return get(url)[0] == 200
        except OSError:
            return False

    worker = daemons.start(
        [sys.executable, "-m", "flask", "--app", "storefront", "worker"],
        log,
        answers,
        lambda: log.read_text(),
        cwd=ROOT,
        env=env,
        preexec_fn=started_in_the_background,
    )
    try:
        status, text = get(url)
        assert status == 200
        assert {"storefront_emails_total", "storefront_jobs_pending"} <= names(parse(text))
    finally:
        # SIGINT: systemd's KillSignal for it; SIGTERM: docker stop's. Within the 10 s that
        # daemons.stop gives before it kills.
        daemons.stop(worker, how)
    assert worker.returncode == 0, log.read_text()
    assert f"metrics at http://127.0.0.1:{port}/metrics" in log.read_text()
    assert "worker: stopped" in log.read_text()
    with pytest.raises(OSError):
        get(url)
