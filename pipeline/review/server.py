"""A local doccano 1.8.4 server in its own virtual environment (like a database would be).

doccano pins old pandas and pydantic, so it cannot share our environment. ``up`` installs it
into ``HOME/venv`` the first time, initialises the database in ``HOME/data``, creates the admin
user from DOCCANO_USERNAME / DOCCANO_PASSWORD, starts the web server on 127.0.0.1 and waits until
the API answers. ``down`` stops it. Credentials are passed through the environment, never on a
command line (where ``ps`` would show them) and never printed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import ReviewError, UsageError

DOCCANO_VERSION = "1.8.4"
# doccano 1.8.4 on Python 3.11 needs these beside it
DOCCANO_PINS = (f"doccano=={DOCCANO_VERSION}", "numpy<2", "marshmallow<3.24")
DEFAULT_PORT = 8000

# doccano's own `webserver` command binds 0.0.0.0; this launcher runs the same gunicorn app on
# the loopback address only.
_LAUNCHER = r"""
import os, sys
import backend.cli as cli  # sets DOCCANO_HOME-based database/media settings and sys.path
import gunicorn.app.base, gunicorn.util

class App(gunicorn.app.base.BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()
    def load_config(self):
        for k, v in self.options.items():
            self.cfg.set(k, v)
    def load(self):
        return gunicorn.util.import_app("config.wsgi")

App({"bind": "127.0.0.1:" + sys.argv[1], "workers": int(sys.argv[2]), "chdir": cli.base,
     "capture_output": True, "loglevel": "warning", "timeout": 120}).run()
"""


_CREATE_ADMIN = r"""
import os
import backend.cli  # noqa: F401  (settings from DOCCANO_HOME)
import django
django.setup()
from django.core import management
management.call_command("create_admin", "--noinput", username=os.environ["BRIEFS_DOCCANO_USER"],
                        password=os.environ["BRIEFS_DOCCANO_PASS"], email="admin@localhost")
"""


def default_home() -> Path:
    env = os.environ.get("BRIEFS_DOCCANO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "briefs" / "doccano"


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env["DOCCANO_HOME"] = str(home / "data")
    secret = home / "secret_key"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(48))
        secret.chmod(0o600)
    env["SECRET_KEY"] = secret.read_text().strip()
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env["DEBUG"] = "False"
    return env


def venv_python(home: Path) -> Path:
    return home / "venv" / "bin" / "python"


def install(home: Path, python: str | None = None, log=print) -> Path:
    """Create HOME/venv with doccano (idempotent)."""
    py = venv_python(home)
    stamp = home / "venv" / ".briefs-doccano"
    if py.exists() and stamp.exists() and stamp.read_text().strip() == " ".join(DOCCANO_PINS):
        return py
    home.mkdir(parents=True, exist_ok=True)
    base = python or os.environ.get("BRIEFS_DOCCANO_PYTHON") or _system_python()
    log(f"installing doccano {DOCCANO_VERSION} into {home / 'venv'} (first time only) ...")
    _run([base, "-m", "venv", str(home / "venv")], "create the doccano virtualenv")
    _run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *DOCCANO_PINS],
         "install doccano")
    stamp.write_text(" ".join(DOCCANO_PINS))
    return py


def _system_python() -> str:
    # the interpreter our own venv was made from, not the venv itself
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base


def _run(cmd: list[str], what: str, env: dict | None = None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-15:]
        raise ReviewError(f"could not {what} (exit {res.returncode}):\n  " + "\n  ".join(tail))
    return res.stdout


def _credentials() -> tuple[str, str]:
    user = os.environ.get("DOCCANO_USERNAME")
    password = os.environ.get("DOCCANO_PASSWORD")
    if not user or not password:
        raise UsageError("set DOCCANO_USERNAME and DOCCANO_PASSWORD (the admin account to create)")
    return user, password


def is_up(port: int, timeout: float = 5.0) -> bool:
    """The API answers (an anonymous request is refused with 403: that is an answer). doccano's
    /v1/health/ also checks a celery worker, which the review loop does not need."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/projects", timeout=timeout) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except (urllib.error.URLError, OSError):
        return False


def up(home: Path | None = None, port: int = DEFAULT_PORT, workers: int = 2, wait_seconds: float = 120,
       log=print) -> dict:
    """Install if needed, initialise, create the admin user, start the server, wait for the API."""
    home = Path(home or default_home()).resolve()
    user, password = _credentials()
    pidfile = home / "server.pid"
    if pidfile.exists() and _alive(int(pidfile.read_text())) and is_up(port):
        log(f"doccano already running on http://127.0.0.1:{port} (pid {pidfile.read_text().strip()})")
        return {"url": f"http://127.0.0.1:{port}", "pid": int(pidfile.read_text()), "home": str(home)}
    if is_up(port):
        raise ReviewError(f"port {port} is already serving something else; choose another with --port")
    py = install(home, log=log)
    env = _env(home)
    (home / "data").mkdir(parents=True, exist_ok=True)
    doccano = [str(py), "-c", "import sys; from backend.cli import main; sys.argv[0]='doccano'; sys.exit(main())"]
    log("initialising the database ...")
    _run(doccano + ["init"], "initialise doccano's database", env)
    # doccano's `createuser` takes the password as an argument (visible to `ps`): call its
    # management command with the credentials in the environment instead.
    env_user = dict(env, BRIEFS_DOCCANO_USER=user, BRIEFS_DOCCANO_PASS=password)
    res = subprocess.run([str(py), "-c", _CREATE_ADMIN], capture_output=True, text=True, env=env_user)
    if res.returncode != 0 and "already" not in (res.stdout + res.stderr).lower():
        last = ((res.stderr or res.stdout).strip().splitlines() or ["?"])[-1][:300]
        raise ReviewError("could not create the doccano admin user: " + last.replace(password, "***"))
    log_path = home / "server.log"
    with open(log_path, "ab") as fh:
        proc = subprocess.Popen([str(py), "-c", _LAUNCHER, str(port), str(workers)], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ReviewError(f"doccano exited with status {proc.returncode}; see {log_path}")
        if is_up(port):
            log(f"doccano {DOCCANO_VERSION} is up on http://127.0.0.1:{port} (pid {proc.pid}, data in {home / 'data'})")
            return {"url": f"http://127.0.0.1:{port}", "pid": proc.pid, "home": str(home)}
        time.sleep(1)
    down(home, log=lambda *a: None)
    raise ReviewError(f"doccano did not answer on port {port} within {wait_seconds:.0f}s; see {log_path}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def down(home: Path | None = None, log=print, timeout: float = 20) -> bool:
    home = Path(home or default_home()).resolve()
    pidfile = home / "server.pid"
    if not pidfile.exists():
        log("doccano is not running (no pid file)")
        return False
    pid = int(pidfile.read_text())
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    log(f"doccano stopped (pid {pid})")
    return True
