"""Who may use `monitor web`: users with argon2id password hashes and a role, in
`<state>/web/users.yaml` (written by `monitor web adduser`, never by hand), and the secret that
signs session cookies (`<state>/web/secret`, made once, readable by the owner only)."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.errors import WebError

ROLES = ("editor", "reader")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASHER = PasswordHasher()
# spent on a login for a user that does not exist, so that timing tells nothing
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    name: str
    # editor: triage, mutes, watches, feeds; reader: looks only
    role: str

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


def web_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "web"


def users_path(state_dir: Path) -> Path:
    return web_dir(state_dir) / "users.yaml"


def _read(path: Path) -> list[dict[str, str]]:
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or []
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WebError(f"{path}: cannot read the users file: {exc}") from None
    if not isinstance(data, list) or not all(
            isinstance(u, dict) and {"name", "role", "hash"} <= set(u) for u in data):
        raise WebError(f"{path}: not a users file (a list of name, role, hash); "
                       "manage it with `monitor web adduser`")
    return data


def _write(path: Path, users: list[dict[str, str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("# monitor web users: manage with `monitor web adduser` / `deluser`\n")
            yaml.safe_dump(users, out, sort_keys=False)
        os.replace(partial, path)
    except OSError as exc:
        raise WebError(f"{path}: cannot write the users file: {exc}") from None


def list_users(state_dir: Path) -> list[User]:
    return [User(u["name"], u["role"]) for u in _read(users_path(state_dir))]


def add_user(state_dir: Path, name: str, password: str, role: str = "editor") -> User:
    """Add a user, or set an existing one's password and role."""
    if not _NAME.match(name):
        raise WebError(f"user name {name!r}: use 1-64 letters, digits and _ . @ -")
    if role not in ROLES:
        raise WebError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise WebError(f"user {name!r}: a password needs at least 8 characters")
    path = users_path(state_dir)
    users = [u for u in _read(path) if u["name"] != name]
    users.append({"name": name, "role": role, "hash": _HASHER.hash(password)})
    _write(path, users)
    return User(name, role)


def remove_user(state_dir: Path, name: str) -> bool:
    path = users_path(state_dir)
    users = _read(path)
    kept = [u for u in users if u["name"] != name]
    if len(kept) == len(users):
        return False
    _write(path, kept)
    return True


def authenticate(state_dir: Path, name: str, password: str) -> User | None:
    """The user when the password is theirs; None otherwise (same time either way)."""
    path = users_path(state_dir)
    users = {u["name"]: u for u in _read(path)}
    entry = users.get(name)
    try:
        _HASHER.verify(entry["hash"] if entry else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if entry is None:
        return None
    if _HASHER.check_needs_rehash(entry["hash"]):
        entry["hash"] = _HASHER.hash(password)
        _write(path, list(users.values()))
    return User(entry["name"], entry["role"])


def session_secret(state_dir: Path) -> str:
    """The key that signs session cookies: made once, kept beside the users."""
    path = web_dir(state_dir) / "secret"
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise WebError(f"{path}: cannot read the session secret: {exc}") from None
    secret = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret)
    except FileExistsError:  # another process made it first
        return path.read_text("ascii").strip()
    except OSError as exc:
        raise WebError(f"{path}: cannot write the session secret: {exc}") from None
    return secret
