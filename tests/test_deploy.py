"""The deploy kit (deploy/) checked by the tools that will run it: ``nginx -t`` on the shipped
site, ``systemd-analyze verify`` on the units, the app's own start-up checks on the example
environment file; and what a shop owner relies on without reading them line by line: every
unit runs as the dedicated user with the same hardening and runs commands the shop has.

Without nginx or systemd-analyze the checks that need them are skipped locally and fail under
CI=true (CI must never pass by skipping).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from storefront import config
from tests.certificates import make_certificate
from tests.nginx import ROOT, SITE, Nginx, SiteValues, nginx_binary

DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "storefront.env.example"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
SERVICES = sorted(UNITS.glob("*.service"))

# The hardening every unit of the shop carries (systemd.exec(5)); the web and worker units must
# be able to write the instance folder and nothing else of the system.
HARDENING = {
    "User": "storefront",
    "Group": "storefront",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictSUIDSGID": "yes",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
}


def require(tool: str | None, what: str) -> str:
    if tool is None:
        if IN_CI:
            pytest.fail(f"{what} is missing (CI=true: never skip)", pytrace=False)
        pytest.skip(f"{what} is missing")
    return tool


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Key -> every value it is given in the unit (systemd allows repeats)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# --- nginx ----------------------------------------------------------------------------------


def site_values(tmp_path: Path) -> SiteValues:
    cert, key = make_certificate(tmp_path)
    return SiteValues(
        upstreams=[18001, 18002],
        https_port=18443,
        http_port=18080,
        certificate=cert,
        key=key,
        media_dir=tmp_path / "media",
        acme_root=tmp_path / "acme",
    )


def test_shipped_nginx_site_passes_nginx_t(tmp_path):
    binary = require(nginx_binary(), "nginx (apt-get install nginx)")
    nginx = Nginx(binary, tmp_path / "nginx", site_values(tmp_path))
    done = nginx.check()
    assert done.returncode == 0, f"nginx -t refused the shipped site:\n{done.stderr}"
    assert "test is successful" in done.stderr


def test_nginx_t_refuses_the_site_with_a_certificate_it_cannot_read(tmp_path):
    # The check above is a real one: the same run fails where the site is wrong.
    binary = require(nginx_binary(), "nginx (apt-get install nginx)")
    values = site_values(tmp_path)
    values.certificate = tmp_path / "no-such-certificate.pem"
    done = Nginx(binary, tmp_path / "nginx", values).check()
    assert done.returncode != 0
    assert "no-such-certificate.pem" in done.stderr


def test_nginx_site_sends_what_the_app_trusts_with_proxy_hops_1():
    text = SITE.read_text()
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    for header, value in (
        ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Forwarded-Host", "$host"),
        ("X-Forwarded-Port", "$server_port"),
        ("Upgrade", "$http_upgrade"),
    ):
        assert re.search(rf"proxy_set_header {header} \{value};", directives), header
    # proxy_set_header in a location would drop every one of these for it.
    assert directives.count("proxy_set_header") == 7
    ws = re.search(r"location = /ws \{(.*?)\}", directives, re.S)
    assert ws, "no location for the WebSocket"
    assert "proxy_buffering off;" in ws.group(1)
    assert re.search(r"proxy_read_timeout (\d+)h;", ws.group(1)), "sockets would time out"
    assert "STOREFRONT_PROXY_HOPS=1" in text
    assert "STOREFRONT_PROXY_HOPS=1" in ENV_EXAMPLE.read_text()


def test_caddy_example_passes_caddy_validate(tmp_path):
    binary = require(shutil.which("caddy"), "caddy (apt-get install caddy)")
    # Caddy keeps its state under $HOME / $XDG_*: the test's own folder, not the machine's.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    command = [binary, "adapt", "--config", str(DEPLOY / "caddy" / "Caddyfile"), "--validate"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    adapted = done.stdout
    for upstream in ("127.0.0.1:8001", "127.0.0.1:8002"):
        assert upstream in adapted
    assert '"/srv/storefront/static"' in adapted and "immutable" in adapted


# --- systemd --------------------------------------------------------------------------------


def test_units_pass_systemd_analyze_verify(tmp_path):
    binary = require(shutil.which("systemd-analyze"), "systemd-analyze (apt-get install systemd)")
    env_file = tmp_path / "storefront.env"
    env_file.write_text("")
    units = tmp_path / "units"
    units.mkdir()
    names = []
    for path in sorted(UNITS.iterdir()):
        # The checkout and the environment file where this test finds them; nothing else changed.
        text = path.read_text().replace("/srv/storefront", str(ROOT))
        text = text.replace("/etc/storefront/storefront.env", str(env_file))
        name = path.name.replace("@.service", "@8001.service")
        (units / name).write_text(text)
        names.append(f"./{name}")
    done = subprocess.run(
        [binary, "verify", "--man=no", *names],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), (
        f"systemd-analyze verify:\n{done.stdout}\n{done.stderr}"
    )


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_every_service_runs_hardened_as_the_dedicated_user(unit):
    settings = unit_settings(unit)
    for key, value in HARDENING.items():
        assert settings.get(key) == [value], f"{unit.name}: {key}={settings.get(key)}"
    writable = " ".join(settings.get("ReadWritePaths", [])).split()
    assert writable and writable[0] == "/srv/storefront/instance", writable
    assert set(writable) <= {"/srv/storefront/instance", "/var/backups/storefront"}, writable
    assert settings.get("EnvironmentFile") == ["/etc/storefront/storefront.env"]


def test_units_run_commands_the_shop_has(tmp_path):
    from storefront import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings(f"sqlite:///{tmp_path / 'shop.db'}", str(tmp_path)))
    commands = set(app.cli.list_commands(None))
    ran = {}
    for unit in SERVICES:
        for line in unit_settings(unit).get("ExecStart", []):
            found = re.search(r"\.venv/bin/storefront (\S+)", line)
            if found:
                ran[unit.name] = found.group(1)
    assert ran["storefront-worker.service"] == "worker"
    assert ran["storefront-cleanup.service"] == "cleanup"
    assert ran["storefront-backup.service"] == "backup"
    assert {"worker", "cleanup"} <= commands
    # The web units start gunicorn in the checkout, which reads gunicorn.conf.py there.
    web = unit_settings(UNITS / "storefront-web@.service")
    assert web["ExecStart"] == ["/srv/storefront/.venv/bin/gunicorn"]
    assert web["WorkingDirectory"] == ["/srv/storefront"]
    assert "STOREFRONT_BIND=127.0.0.1:%i" in web["Environment"]
    assert "STOREFRONT_BIND" in (ROOT / "gunicorn.conf.py").read_text()
    # Stopping waits longer than gunicorn's graceful timeout, so requests in flight finish.
    graceful = int(
        re.search(r"graceful_timeout = (\d+)", (ROOT / "gunicorn.conf.py").read_text())[1]
    )
    assert int(web["TimeoutStopSec"][0]) > graceful
    assert web["ExecReload"] == ["/bin/kill -s HUP $MAINPID"]


def test_backup_timer_line_names_a_new_folder_each_run():
    line = unit_settings(UNITS / "storefront-backup.service")["ExecStart"][0]
    # systemd turns %% into %, so the shell runs date +%F-%H%M.
    assert "backup /var/backups/storefront/$(date +%%F-%%H%%M)" in line


# --- the environment file -------------------------------------------------------------------


def example_environment(tmp_path: Path) -> dict[str, str]:
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def test_example_environment_is_accepted_once_its_secrets_are_filled_in(tmp_path):
    env = example_environment(tmp_path)
    readme = (ROOT / "README.md").read_text()
    undocumented = [k for k in env if f"`{k}`" not in readme]
    assert not undocumented, f"settings missing from README's table: {undocumented}"
    assert env["STOREFRONT_SECRET_KEY"] == env["STOREFRONT_ENCRYPTION_KEYS"] == "CHANGE-ME"
    # As shipped, the placeholder keys are refused at start-up: nobody runs on them.
    with pytest.raises(config.ConfigError):
        config.load({**env, "STOREFRONT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}, tmp_path)
    env["STOREFRONT_SECRET_KEY"] = "s" * 64
    env["STOREFRONT_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env["STOREFRONT_DATABASE_URL"] = f"sqlite:///{tmp_path}/shop.db"
    env["STOREFRONT_MEDIA_DIR"] = str(tmp_path / "media")
    settings = config.load(env, str(tmp_path))
    assert settings["PROXY_HOPS"] == 1
    assert settings["WEB_JOBS"] is False
