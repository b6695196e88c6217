"""A thin adapter over doccano-client 1.1 (login, CSRF and session come from it); every call
checks its status and raises ``ReviewError`` with what went wrong, never with credentials."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ReviewError, UsageError
from ..labels import COLOURS, LABELS, SHORTCUTS

PROJECT_TYPE = "DocumentClassification"
RESOURCE_TYPE = "TextClassificationProject"


@dataclass
class Credentials:
    url: str
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(url={self.url!r}, username={self.username!r}, password='***')"


def load_credentials(config: str | Path | None = None) -> Credentials:
    """DOCCANO_URL / DOCCANO_USERNAME / DOCCANO_PASSWORD, else a TOML file (``--config`` or
    ``~/.config/briefs/doccano.toml``) with url, username, password keys."""
    values = {}
    path = Path(config) if config else Path.home() / ".config" / "briefs" / "doccano.toml"
    if path.exists():
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UsageError(f"cannot read doccano config: {e}", path)
    elif config:
        raise UsageError("doccano config file does not exist", path)
    url = os.environ.get("DOCCANO_URL") or values.get("url")
    user = os.environ.get("DOCCANO_USERNAME") or values.get("username")
    password = os.environ.get("DOCCANO_PASSWORD") or values.get("password")
    missing = [n for n, v in (("DOCCANO_URL", url), ("DOCCANO_USERNAME", user), ("DOCCANO_PASSWORD", password)) if not v]
    if missing:
        raise UsageError(f"missing doccano settings: {', '.join(missing)} (environment or {path})")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise UsageError(f"DOCCANO_URL must start with http:// or https://, got {url!r}")
    if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("refusing to send credentials over plain http to a remote server; use https")
    return Credentials(url.rstrip("/") + "/", user, password)


class Doccano:
    """The few doccano operations the review loop needs. TLS verification stays on."""

    def __init__(self, creds: Credentials):
        from doccano_client import DoccanoClient

        self.creds = creds
        try:
            self.client = DoccanoClient(creds.url, creds.username, creds.password)
        except Exception as e:  # requests raises ConnectionError etc.
            raise ReviewError(f"cannot reach doccano at {creds.url}: {type(e).__name__}")
        self.session = self.client.session
        self.session.verify = True
        me = self._get("v1/me")
        if not isinstance(me, dict) or "username" not in me:
            raise ReviewError(f"login to doccano at {creds.url} as {creds.username!r} failed")
        self.me = me

    # -- HTTP with checks
    def _url(self, endpoint: str) -> str:
        return self.creds.url + endpoint.lstrip("/")

    def _check(self, r, what: str):
        if r.status_code >= 400:
            body = r.text[:300].replace(self.creds.password, "***")
            raise ReviewError(f"doccano refused to {what}: HTTP {r.status_code}: {body}")
        return r.json() if r.content else None

    def _get(self, endpoint: str, params: dict | None = None):
        return self._check(self.session.get(self._url(endpoint), params=params or {}), f"GET {endpoint}")

    def _post(self, endpoint: str, payload: dict):
        return self._check(self.session.post(self._url(endpoint), json=payload), f"POST {endpoint}")

    def _paged(self, endpoint: str, params: dict | None = None, page: int = 200):
        offset = 0
        while True:
            data = self._get(endpoint, {**(params or {}), "limit": page, "offset": offset})
            results = data["results"] if isinstance(data, dict) else data
            yield from results
            if not isinstance(data, dict) or not data.get("next") or not results:
                return
            offset += len(results)

    # -- projects and labels
    def find_project(self, name: str) -> dict | None:
        for p in self._paged("v1/projects"):
            if p["name"] == name:
                return p
        return None

    def ensure_project(self, name: str, guideline: str, description: str = "") -> tuple[dict, dict[str, int], bool]:
        """The project (created if missing) and its label ids; checks type and label set."""
        project = self.find_project(name)
        created = False
        if project is None:
            project = self._post("v1/projects", {
                "name": name, "description": description or "Stance of foreign-policy brief sentences",
                "guideline": guideline, "project_type": PROJECT_TYPE, "resourcetype": RESOURCE_TYPE,
                "random_order": False, "collaborative_annotation": True, "single_class_classification": True,
            })
            created = True
            for lab in LABELS:
                self._post(f"v1/projects/{project['id']}/category-types", {
                    "text": lab, "prefix_key": None, "suffix_key": SHORTCUTS[lab],
                    "background_color": COLOURS[lab], "text_color": "#ffffff",
                })
        elif project.get("project_type") != PROJECT_TYPE:
            raise ReviewError(f"doccano project {name!r} is a {project.get('project_type')} project, "
                              f"not {PROJECT_TYPE}; choose another --project name")
        labels = {c["text"]: c["id"] for c in self._get(f"v1/projects/{project['id']}/category-types")}
        if set(labels) != set(LABELS):
            raise ReviewError(f"doccano project {name!r} has labels {sorted(labels)}, expected {list(LABELS)}")
        if not project.get("single_class_classification") or not project.get("collaborative_annotation"):
            raise ReviewError(f"doccano project {name!r} must be single-label and collaborative (reviewers see "
                              "the model's suggestion); create a new project")
        return project, labels, created

    # -- examples
    def examples(self, project_id: int, confirmed: bool | None = None):
        params = {} if confirmed is None else {"confirmed": "true" if confirmed else "false"}
        yield from self._paged(f"v1/projects/{project_id}/examples", params)

    def create_example(self, project_id: int, text: str, meta: dict, score: float | None = None) -> dict:
        payload = {"text": text, "meta": meta}
        if score is not None:
            payload["score"] = score
        return self._post(f"v1/projects/{project_id}/examples", payload)

    def set_category(self, project_id: int, example_id: int, label_id: int) -> dict:
        return self._post(f"v1/projects/{project_id}/examples/{example_id}/categories", {"label": label_id})

    def delete_categories(self, project_id: int, example_id: int) -> None:
        r = self.session.delete(self._url(f"v1/projects/{project_id}/examples/{example_id}/categories"))
        self._check(r, "delete categories")

    def categories(self, project_id: int, example_id: int) -> list[dict]:
        return self._get(f"v1/projects/{project_id}/examples/{example_id}/categories")

    def states(self, project_id: int, example_id: int) -> list[dict]:
        data = self._get(f"v1/projects/{project_id}/examples/{example_id}/states")
        return data["results"] if isinstance(data, dict) else data

    def confirm(self, project_id: int, example_id: int) -> None:
        """Toggle the requesting user's confirmed state (doccano's checkmark)."""
        self._post(f"v1/projects/{project_id}/examples/{example_id}/states", {})

    def users(self) -> dict[int, str]:
        return {u["id"]: u["username"] for u in self._paged("v1/users")}

    def add_member(self, project_id: int, user_id: int, role: str = "annotator") -> None:
        roles = {r["name"]: r["id"] for r in self._get("v1/roles")}
        self._post(f"v1/projects/{project_id}/members", {"user": user_id, "role": roles[role]})
