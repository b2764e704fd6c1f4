"""monitor.watchfile: the watch file `monitor web` manages, merged into the config's watch list;
entries added once, removed by index; every problem named by file and entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor import watchfile
from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.match import Matcher
from monitor.models import Item


def item(source: str, title: str) -> Item:
    return Item(source=source, key=title, url=f"https://{source}.example/", title=title,
                text="", published_at=None, content_hash=title)


def test_its_watches_mutes_and_exclusions_join_the_config(
        tmp_path: Path, write_config: Callable[..., Config]) -> None:
    config = write_config({"watches": [{"name": "Huawei"}, {"name": "Nuctech"}]})
    path = config.watch_file
    assert path == tmp_path / "web-watches.yaml"
    watchfile.add(path, "watches", {"name": "scanners", "match_name": False,
                                    "keywords": ["x-ray scanners"], "by": "nino"})
    watchfile.add(path, "mutes", {"watch": "Huawei", "alias": "Huawei", "source": "sport",
                                  "by": "nino", "note": "the football team"})
    watchfile.add(path, "excludes", {"watch": "Nuctech", "text": "Nuctech Labs", "by": "nino"})
    # the same mute again (another person, later) is not added twice
    watchfile.add(path, "mutes", {"watch": "Huawei", "alias": "Huawei", "source": "sport",
                                  "by": "dato"})
    assert len(watchfile.read(path)["mutes"]) == 1
    again = load_config(config.path)  # type: ignore[arg-type]
    assert [w.name for w in again.watches] == ["Huawei", "Nuctech", "scanners"]
    matcher = Matcher(again.watches)
    assert matcher.match(item("sport", "Huawei wins the cup")) == []
    assert [m.watch for m in matcher.match(item("news", "Huawei wins a tender"))] == ["Huawei"]
    assert matcher.match(item("news", "Nuctech Labs opens")) == []
    assert [m.watch for m in matcher.match(item("news", "New x-ray scanners"))] == ["scanners"]
    removed = watchfile.remove(path, "mutes", 0)
    assert removed["note"] == "the football team"
    assert matcher.match(item("sport", "x")) == []
    assert "Huawei" in [m.watch for m in Matcher(load_config(config.path).watches).match(  # type: ignore[arg-type]
        item("sport", "Huawei wins the cup"))]


def test_problems_name_the_file_and_the_entry(
        tmp_path: Path, write_config: Callable[..., Config]) -> None:
    config = write_config({"watches": [{"name": "Huawei"}]})
    path = config.watch_file
    assert path is not None
    path.write_text("mutes:\n  - {watch: Gone, alias: x}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"web-watches.yaml: mutes\[0\]: no watch named 'Gone'"):
        load_config(config.path)  # type: ignore[arg-type]
    path.write_text("mutes: [oops\n", "utf-8")
    with pytest.raises(ConfigError, match="web-watches.yaml: not valid YAML at line"):
        load_config(config.path)  # type: ignore[arg-type]
    path.write_text("wathces: []\n", "utf-8")
    with pytest.raises(ConfigError, match="wathces: unknown key"):
        load_config(config.path)  # type: ignore[arg-type]
    path.write_text("watches:\n  - {name: Huawei}\n", "utf-8")
    with pytest.raises(ConfigError, match="watch 'Huawei' is also defined in the config"):
        load_config(config.path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"mutes\[5\]: no such entry"):
        watchfile.remove(path, "mutes", 5)


def test_null_turns_it_off_and_a_snapshot_does_not_include_it_twice(
        tmp_path: Path, write_config: Callable[..., Config]) -> None:
    from monitor.config.load import write_snapshot

    (tmp_path / "web-watches.yaml").write_text("watches:\n  - {name: extra}\n", "utf-8")
    off = write_config({"watches": [{"name": "Huawei"}], "web": {"watch_file": None}})
    assert [w.name for w in off.watches] == ["Huawei"] and off.watch_file is None
    on = write_config({"watches": [{"name": "Huawei"}]})
    snapshot = load_config(write_snapshot(on, tmp_path / "snapshots"))
    assert [w.name for w in snapshot.watches] == ["Huawei", "extra"]


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    with pytest.raises(ConfigError, match="cannot write the web watch file"):
        watchfile.add(blocked / "web-watches.yaml", "mutes", {"watch": "x", "alias": "y"})
