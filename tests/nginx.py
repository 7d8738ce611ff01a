"""The shipped nginx site (deploy/nginx/storefront.conf) run for real: rendered with a test's
ports, certificate and folders in place of the example's, under a main configuration of its own
in a temporary prefix (its pid, logs and temporary files there), never the system's nginx.

Rendering replaces literal values of the shipped file and fails if one is no longer there, so
the file the tests run is the file a shop owner installs, with only those values changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import daemons

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx" / "storefront.conf"
NGINX = os.environ.get("STOREFRONT_TEST_NGINX", "/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")


def nginx_binary() -> str | None:
    return NGINX if Path(NGINX).exists() else shutil.which("nginx")


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@dataclass
class SiteValues:
    """What a test puts in place of the shipped example's values."""

    upstreams: list[int]  # the gunicorn instances' ports on 127.0.0.1
    https_port: int
    http_port: int
    certificate: Path
    key: Path
    media_dir: Path
    acme_root: Path
    static_dir: Path = ROOT / "static"


def render_site(values: SiteValues) -> str:
    text = SITE.read_text()
    v6 = ipv6_loopback()
    upstream_lines = "\n".join(
        f"    server 127.0.0.1:{port} max_fails=0;" for port in values.upstreams
    )
    replacements = [
        (
            "    server 127.0.0.1:8001 max_fails=0;\n    server 127.0.0.1:8002 max_fails=0;",
            upstream_lines,
        ),
        ("/etc/letsencrypt/live/shop.example.com/fullchain.pem", str(values.certificate)),
        ("/etc/letsencrypt/live/shop.example.com/privkey.pem", str(values.key)),
        ("server_name shop.example.com;", "server_name 127.0.0.1 localhost;"),
        ("listen 80;", f"listen 127.0.0.1:{values.http_port};"),
        (
            "listen [::]:80;",
            f"listen [::1]:{values.http_port};" if v6 else "# (no IPv6 loopback here)",
        ),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{values.https_port} ssl http2;"),
        (
            "listen [::]:443 ssl http2;",
            f"listen [::1]:{values.https_port} ssl http2;" if v6 else "# (no IPv6 loopback here)",
        ),
        ("/srv/storefront/static/", f"{values.static_dir}/"),
        ("/srv/storefront/instance/media/", f"{values.media_dir}/"),
        ("/var/www/html", str(values.acme_root)),
    ]
    for old, new in replacements:
        if old not in text:
            raise AssertionError(f"{SITE.relative_to(ROOT)} no longer contains {old!r}")
        text = text.replace(old, new)
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    leftover = [w for w in ("shop.example.com", "/srv/storefront", ":8001") if w in directives]
    assert not leftover, f"example values left in the rendered site: {leftover}"
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A main nginx.conf keeping everything under ``prefix``, including ``site``."""
    # As root, nginx's workers would run as nobody and could not read a test's 0700 folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\n"
        "daemon off;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    include {MIME_TYPES};\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {prefix}/access.log;\n"
        f"    client_body_temp_path {prefix}/body;\n"
        f"    proxy_temp_path {prefix}/proxy;\n"
        f"    fastcgi_temp_path {prefix}/fastcgi;\n"
        f"    uwsgi_temp_path {prefix}/uwsgi;\n"
        f"    scgi_temp_path {prefix}/scgi;\n"
        f"    include {site};\n"
        "}\n"
    )


class Nginx:
    """nginx serving the rendered site from ``prefix``; ``check()`` is ``nginx -t``."""

    def __init__(self, binary: str, prefix: Path, values: SiteValues) -> None:
        self.binary = binary
        self.prefix = prefix
        self.values = values
        prefix.mkdir(parents=True, exist_ok=True)
        self.site = prefix / "storefront.conf"
        self.site.write_text(render_site(values))
        self.config = prefix / "nginx.conf"
        self.config.write_text(main_config(prefix, self.site))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.values.https_port}"

    def _command(self, *args: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.config), *args]

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = daemons.start(
            self._command(), self.prefix / "stderr.log", self._listens, self.log_tail
        )

    def _listens(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.values.https_port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        daemons.stop(process, signal.SIGQUIT)  # nginx's graceful shutdown

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.exists():
                out += [f"--- {name}", *path.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(out)

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""
