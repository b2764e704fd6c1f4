"""The CLI: help and docs for every command, exit codes, summaries and --json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import open_store
from monitor.tender import record_tender

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
COMMANDS = sorted(cli.commands)

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>
<link>http://x/</link><description>d</description>
<item><title>Hikvision cameras for Tbilisi</title><link>http://x/1</link><guid>g1</guid>
<pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate><description>City hall buys Hikvision
cameras.</description></item></channel></rss>"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, config: Path, state: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--config", str(config), "--state", str(state), *args])


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_have_help_with_example(runner, command):
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_are_documented(command):
    assert f"monitor {command}" in README or f"{command}`" in README


def test_python_dash_m_monitor_runs():
    result = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0
    assert "check-config" in result.stdout


def test_check_config_ok(runner, write_config, tmp_path):
    config = write_config({"sources": [{"name": "a", "kind": "feed", "url": "https://a.ge/rss"}],
                           "watches": [{"name": "Nuctech"}]})
    result = invoke(runner, config.path, tmp_path / "state", "check-config")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "1 sources (1 enabled), 1 watches" in result.output


def test_check_config_warns_of_unset_secrets_by_name_only(runner, write_config, tmp_path,
                                                          monkeypatch):
    config = write_config({
        "sources": [{"name": "kz", "kind": "portal", "portal": "goszakup",
                     "url": "https://ows.goszakup.gov.kz", "token_env": "GOSZAKUP_TOKEN"}],
        "smtp": {"host": "mail.example.org", "username": "u", "password_env": "SMTP_PW"},
    })
    monkeypatch.setenv("SMTP_PW", "s3cret-value")
    result = invoke(runner, config.path, tmp_path / "state", "check-config")
    assert result.exit_code == 0, result.output
    assert ("warning: source 'kz': the environment variable GOSZAKUP_TOKEN (token_env) is not "
            "set: its runs will fail as not configured") in result.output
    assert "SMTP_PW" not in result.output and "s3cret" not in result.output
    monkeypatch.setenv("GOSZAKUP_TOKEN", "t0ken")
    monkeypatch.delenv("SMTP_PW")
    result = invoke(runner, config.path, tmp_path / "state", "check-config", "--json")
    assert json.loads(result.output)["warnings"] == [
        "smtp: the environment variable SMTP_PW (password_env) is not set: sending will fail"]


def test_check_config_bad_exits_2_naming_file_key_and_value(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: a\n    kind: feed\n    url: htp://nowhere\n", "utf-8")
    result = invoke(runner, bad, tmp_path / "state", "check-config")
    assert result.exit_code == 2
    assert str(bad) in result.output
    assert "sources[0].url" in result.output
    assert "'htp://nowhere'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "sources: []\nwatches: [{name: ZTE}]\n"],
                         ids=["empty file", "comments only", "empty source list"])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_config_without_sources_is_an_error(runner, tmp_path, text, command):
    empty = tmp_path / "empty.yaml"
    empty.write_text(text, "utf-8")
    result = invoke(runner, empty, tmp_path / "state", command)
    assert result.exit_code == 2, result.output
    assert f"{empty}: no sources: there is nothing to watch" in result.output


def test_check_config_warns_when_no_source_is_enabled(runner, tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {name: a, kind: feed, url: 'https://a.example/rss', "
                    "enabled: false}\n", "utf-8")
    result = invoke(runner, path, tmp_path / "state", "check-config")
    assert result.exit_code == 0
    assert "warning: no source is enabled: `monitor run` would crawl nothing" in result.output


def test_missing_config_exits_2(runner, tmp_path):
    result = invoke(runner, tmp_path / "nope.yaml", tmp_path / "state", "crawl")
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_config_and_state_from_environment(runner, write_config, tmp_path, monkeypatch):
    config = write_config({"sources": [{"name": "a", "kind": "feed",
                                        "url": "https://a.example/rss"}],
                           "watches": [{"name": "Nuctech"}]})
    monkeypatch.setenv("MONITOR_CONFIG", str(config.path))
    result = runner.invoke(cli, ["check-config", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["config"] == str(config.path)


def test_crawl_summary_json_and_exit_codes(runner, site, write_config, tmp_path):
    site.expect_request("/rss").respond_with_data(RSS, content_type="application/rss+xml")
    site.expect_request("/gone").respond_with_data("gone", status=410)
    config = write_config({
        "sources": [{"name": "good", "kind": "feed", "url": site.url_for("/rss")},
                    {"name": "gone", "kind": "feed", "url": site.url_for("/gone")}],
        "watches": [{"name": "Hikvision", "aliases": ["Хиквижн"]}],
    })
    state = tmp_path / "state"
    result = invoke(runner, config.path, state, "crawl")
    assert result.exit_code == 0, result.output
    assert "source" in result.output and "new matches" in result.output
    assert "gone: HTTP 410" in result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()
            if line.startswith(("good ", "gone "))}
    assert rows["good"][1] == "ok"
    assert rows["gone"][1] == "error"

    as_json = invoke(runner, config.path, state, "crawl", "--json", "good")
    assert as_json.exit_code == 0, as_json.output
    [good] = json.loads(as_json.output)["results"]
    assert (good["source"], good["status"], good["new_items"]) == ("good", "ok", 0)

    only_failing = invoke(runner, config.path, state, "crawl", "gone")
    assert only_failing.exit_code == 1

    # a source whose runs all failed is not "ok", even before it counts as failing
    status = invoke(runner, config.path, state, "status")
    assert "2 source(s): 1 error, 1 ok" in status.output
    health = {s["source"]: s["health"] for s in
              json.loads(invoke(runner, config.path, state, "status", "--json").output)["sources"]}
    assert health == {"gone": "error", "good": "ok"}


def test_crawl_unknown_source_exits_2(runner, write_config, tmp_path):
    config = write_config({"sources": [{"name": "a", "kind": "feed", "url": "https://a.ge/"}],
                           "watches": [{"name": "Nuctech"}]})
    result = invoke(runner, config.path, tmp_path / "state", "crawl", "b")
    assert result.exit_code == 2
    assert "no source named 'b'" in result.output


def test_test_source_prints_items_and_stores_nothing(runner, site, write_config, tmp_path):
    site.expect_request("/rss").respond_with_data(RSS, content_type="application/rss+xml")
    config = write_config({
        "sources": [{"name": "good", "kind": "feed", "url": site.url_for("/rss")}],
        "watches": [{"name": "Hikvision"}],
    })
    state = tmp_path / "state"
    result = invoke(runner, config.path, state, "test-source", "good")
    assert result.exit_code == 0, result.output
    assert "Hikvision cameras for Tbilisi" in result.output
    assert "MATCH Hikvision" in result.output
    assert not (state / "monitor.db").exists()


def test_progress_draws_a_live_line_on_a_terminal():
    import io

    from monitor.cli import Progress
    from monitor.crawl import CrawlEvent

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(2, stream=screen)
    progress(CrawlEvent("run_started", "civil_ge", {"run_id": 1}))
    progress(CrawlEvent("progress", "civil_ge",
                        {"fetched": 3, "new_items": 2, "new_matches": 1, "errors": 0}))
    result = {"status": "ok", "fetched": 3, "new_items": 2, "new_matches": 1}
    progress(CrawlEvent("run_finished", "civil_ge", {"result": result}))
    progress.close()
    out = screen.getvalue()
    assert "[0/2] civil_ge: 3 fetched, 2 new, 1 matches" in out
    assert "civil_ge: ok (3 fetched, 2 new, 1 new matches)" in out
    assert "\x1b[K" in out


def test_status_table_unhealthy_first_then_the_outbox(runner, write_config, tmp_path):
    from monitor.models import RunResult

    feed = "https://{}.example/rss"
    config = write_config({
        "sources": [
            {"name": "good", "kind": "feed", "url": feed.format("good"), "schedule": "every 1h"},
            {"name": "off", "kind": "feed", "url": feed.format("off"), "enabled": False},
            {"name": "down", "kind": "feed", "url": feed.format("down"), "schedule": "every 1h"},
        ],
        "watches": [{"name": "Nuctech"}],
    })
    state = tmp_path / "state"
    with open_store(state) as store:
        runs = [("good", "ok", None)] + [("down", "error", "HTTP 500 from\n\x1b[31mhttps://"
                                           "down.example/rss " + "x" * 80)] * 3
        for source, status, error in runs:
            run_id = store.start_run(source)
            store.finish_run(run_id, RunResult(source=source, status=status, items=3,
                                               error=error))
        for n in (1, 2):
            store.queue_digest(recipient="ana@example.org", subject="s", message_id=f"<{n}@x>",
                               message=b"", match_ids=[], until="2026-11-20T07:30:00+00:00",
                               eml_path=None, html_path=None, findings=0)

    result = invoke(runner, config.path, state, "status")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "health", "last", "run", "last", "success", "items",
                                "7d", "next", "run", "last", "error"]
    assert [line.split()[:2] for line in lines[2:5]] == [
        ["down", "failing"], ["good", "ok"], ["off", "never_run"]
    ]
    down, good, off = lines[2:5]
    assert "error, " in down and " ago " in down and "never" in down  # never succeeded
    assert "HTTP 500 from " in down and "down.example/rss xxx" in down and down.endswith("…")
    assert "\x1b" not in result.output  # no escape sequence from a stored error reaches a terminal
    assert "ok, " in good and re.search(r" in (59|60)m\b", good)
    assert off.rstrip().endswith("disabled")
    assert "3 source(s): 1 failing, 1 never_run, 1 ok" in result.output
    assert "Outbox: 2 digests queued, oldest from " in result.output

    as_json = invoke(runner, config.path, state, "status", "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert [s["source"] for s in data["sources"]] == ["down", "good", "off"]
    down_json = data["sources"][0]
    assert down_json["health"] == "failing" and down_json["consecutive_failures"] == 3
    assert down_json["last_error"].startswith("HTTP 500 from\n")  # JSON has it all
    assert down_json["since"] and down_json["next_run_at"]
    assert data["outbox"]["queued"] == 2 and data["outbox"]["oldest_created_at"]


def test_status_with_no_state_yet_reports_never_run(runner, write_config, tmp_path):
    config = write_config({"sources": [{"name": "a", "kind": "feed", "url": "https://a.ge/rss"}],
                           "watches": [{"name": "Nuctech"}]})

    result = invoke(runner, config.path, tmp_path / "state", "status", "--json")

    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["sources"]
    assert (source["source"], source["health"]) == ("a", "never_run")
    assert json.loads(result.stdout)["outbox"]["queued"] == 0


def _stored_item(state, title: str, text: str) -> int:  # type: ignore[no-untyped-def]
    from monitor.models import Item
    from monitor.normalise import content_hash

    item = Item(source="civil_ge", key=f"k-{title}", url=f"https://civil.ge/{len(title)}",
                title=title, text=text, published_at="2026-11-20T08:00:00+00:00",
                content_hash=content_hash(title, text))
    with open_store(state) as store:
        return store.add(item, []).item_id


def test_rematch_finds_a_new_alias_in_stored_items_once(runner, write_config, tmp_path):
    from monitor.mail import preview

    state = tmp_path / "state"
    _stored_item(state, "Tender results", "The contract went to Тяньцзинь Нуктек Системз.")
    config = write_config({"watches": [{"name": "Nuctech", "aliases": ["Нуктек"]}],
                           "recipients": [{"email": "desk@example.org"}]})
    first = invoke(runner, config.path, state, "rematch", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"items": 1, "tenders": 0, "new_matches": 1,
                                        "by_watch": {"Nuctech": 1}}
    again = invoke(runner, config.path, state, "rematch", "--json")
    assert json.loads(again.output)["new_matches"] == 0
    with open_store(state) as store:
        [origin] = [r["origin"] for r in store._rows("SELECT origin FROM matches")]
        text = preview(store, config, html_path=tmp_path / "p.html")
    assert origin == "rematch"
    assert "found by re-matching an item stored earlier, not new" in text


def test_explain_says_why_each_watch_matched_or_not(runner, write_config, tmp_path):
    state = tmp_path / "state"
    item_id = _stored_item(state, "ZTE and the AZTEC museum", "Nothing about Huawei phones.")
    config = write_config({"watches": [{"name": "ZTE"}, {"name": "Hikvision"}]})
    result = invoke(runner, config.path, state, "explain", str(item_id))
    assert result.exit_code == 0, result.output
    assert "ZTE: MATCHED" in result.output
    assert "+ title [0:3] 'ZTE'" in result.output
    assert "Hikvision: no alias or keyword occurs in the item" in result.output
    as_json = json.loads(invoke(runner, config.path, state, "explain", str(item_id),
                                "--json").output)
    assert [e["watch"] for e in as_json["explanations"]] == ["ZTE", "Hikvision"]
    assert as_json["title"] == "ZTE and the AZTEC museum" and as_json["captures"] == []
    missing = invoke(runner, config.path, state, "explain", "999")
    assert missing.exit_code == 1 and "no item with id '999'" in missing.output


def test_explain_names_chinese_words_and_ordinary_word_spellings(runner, write_config,
                                                                   tmp_path):
    state = tmp_path / "state"
    item_id = _stored_item(state, "王建华为了公司的发展四处奔走", "ოთახის კარი ღია დარჩა")
    config = write_config({"watches": [{"name": "Huawei", "aliases": ["华为"]},
                                       {"name": "Kari", "transliterate": True}]})
    result = invoke(runner, config.path, state, "explain", str(item_id))
    assert result.exit_code == 0, result.output
    assert ("across the words '王建华' and '为了' (Chinese word boundaries: 王建华/为了/公司)"
            in result.output)
    assert ("generated variant 'კარი' is an ordinary Georgian word; counted only with another "
            "mention of the watch or its context") in result.output


def test_explain_tender_names_the_role_and_the_registry_id(runner, write_config, tmp_path):
    from monitor.models import Organisation, TenderRecord
    from monitor.tender import normalise_tender

    state = tmp_path / "state"
    record = normalise_tender(TenderRecord(
        source="spa", native_id="NAT230021830", title="Scanners",
        buyer=Organisation("Revenue Service"),
        bidders=(Organisation("AZTEC Systems"), Organisation("შპს ენ-ტექი", "404409497",
                                                              "GE-NAPR")),
    ))
    with open_store(state) as store:
        record_tender(store, record)
    config = write_config({"watches": [{"name": "ZTE"},
                                       {"name": "Nuctech", "ids": ["GE-NAPR:404409497"]}]})
    result = invoke(runner, config.path, state, "explain", "--tender", "NAT230021830")
    assert result.exit_code == 0, result.output
    assert "[spa] NAT230021830: Scanners" in result.output
    assert "Nuctech: MATCHED" in result.output
    assert "+ bidder [0:17] 'GE-NAPR:404409497' (matched id 'GE-NAPR:404409497')" in result.output
    assert "ZTE: not matched" in result.output and "not the whole word" in result.output
    missing = invoke(runner, config.path, state, "explain", "--tender", "NAT1")
    assert missing.exit_code == 1 and "no tender numbered 'NAT1'" in missing.output
