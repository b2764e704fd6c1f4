"""monitor.config: the shipped example and the demo config validate; every config error names
the file, the key path and the offending value, and exits with code 2."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml

from monitor.config import Config, load_config, parse_config, write_snapshot
from monitor.errors import ConfigError, SourceNotFoundError
from monitor.match import fold

ROOT = Path(__file__).parents[1]
SHIPPED = ROOT / "config" / "sources.yaml"
DEMO = ROOT / "src" / "monitor" / "demo" / "sources.yaml"


# -- the shipped example config ------------------------------------------------------------------


def test_shipped_config_validates() -> None:
    config = load_config(SHIPPED)
    assert config.path == SHIPPED.resolve()
    assert {s.kind for s in config.sources} == {"feed", "page", "sitemap", "portal"}
    # one source per portal spider at least
    assert {s.portal for s in config.sources if s.kind == "portal"} == {
        "prozorro", "ted", "georgia_spa", "ocds", "goszakup"}
    assert all(url.startswith("https://") for s in config.sources for url in s.start_urls)
    assert config.watches and config.recipients
    # the page source reads its links by selector; feeds that carry summaries follow links
    assert all(s.selectors is not None for s in config.sources if s.kind == "page")


def test_shipped_config_no_term_belongs_to_two_watches() -> None:
    """A term shared by two watches would report every hit twice."""
    owner: dict[str, str] = {}
    for watch in load_config(SHIPPED).watches:
        for _kind, term in watch.terms:
            key = " ".join(fold(term)[0].split())
            assert owner.setdefault(key, watch.name) == watch.name, (
                f"{term!r} is in both {owner[key]!r} and {watch.name!r}"
            )


def test_shipped_config_has_aliases_in_every_script_of_the_use_case() -> None:
    terms = [t for w in load_config(SHIPPED).watches for _k, t in w.terms]
    scripts = {
        "Georgian": r"[\u10a0-\u10ff]",
        "Cyrillic": r"[\u0400-\u04ff]",
        "Kazakh": r"[ҚқҒғҮүҰұӘәІіҢңӨөҺһ]",
        "Chinese": r"[\u4e00-\u9fff]",
    }
    for script, pattern in scripts.items():
        assert any(re.search(pattern, t) for t in terms), f"no {script} alias or keyword"


def test_shipped_config_commented_smtp_block_validates_when_uncommented(tmp_path: Path) -> None:
    lines = SHIPPED.read_text("utf-8").splitlines()
    start = lines.index("# smtp:")
    block = ["smtp:"]
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line[2:])
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join([*lines, *block]) + "\n", "utf-8")
    smtp = load_config(path).smtp
    assert smtp is not None
    assert smtp.password_env == "MONITOR_SMTP_PASSWORD"
    assert (smtp.security, smtp.effective_port) == ("starttls", 587)


def test_shipped_config_commented_alert_recipient_validates_when_uncommented(
        tmp_path: Path) -> None:
    lines = SHIPPED.read_text("utf-8").splitlines()
    start = lines.index("  # - name: investigations")
    block = []
    for line in lines[start:]:
        if not line.startswith("  # "):
            break
        block.append("  " + line[4:])
    text = "\n".join(lines)
    text = text.replace("recipients:\n", "recipients:\n" + "\n".join(block) + "\n", 1)
    path = tmp_path / "sources.yaml"
    path.write_text(text + "\n", "utf-8")
    desk = load_config(path).recipient("investigations")
    assert desk.email is None and desk.notify_env == ("DESK_TELEGRAM_URL",)
    assert (desk.alert, desk.on, desk.quiet, desk.alert_limit) == (
        "immediate", ("awarded", "winner_changed"), "23:00-07:00", 5)
    assert desk.channels == ("env:DESK_TELEGRAM_URL",)


def test_shipped_config_sends_no_email_as_shipped() -> None:
    """Without an smtp block digests land as .eml files: trying the example sends nothing."""
    assert load_config(SHIPPED).smtp is None


# -- the demo config -------------------------------------------------------------------------------


def demo_config(tmp_path: Path, base: str = "http://127.0.0.1:8765", port: int = 2525) -> Config:
    text = DEMO.read_text("utf-8").replace("{{BASE}}", base).replace("{{SMTP_PORT}}", str(port))
    path = tmp_path / "demo.yaml"
    path.write_text(text, "utf-8")
    return load_config(path)


def test_demo_config_validates_after_substitution(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    feed, news = config.source("demo_feed"), config.source("demo_news")
    assert (feed.kind, feed.url, feed.follow_links) == (
        "feed",
        "http://127.0.0.1:8765/feed.xml",
        True,
    )
    assert (news.kind, news.url) == ("page", "http://127.0.0.1:8765/news/index.html")
    assert news.selectors is not None
    assert (news.selectors.links, news.selectors.title, news.selectors.body) == (
        "a.story",
        "h1.headline",
        "div.article-body",
    )
    assert [r.email for r in config.recipients] == ["investigator@example.org"]
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == ("127.0.0.1", 2525, "none")
    assert (config.crawl.delay, config.crawl.http_cache) == (0, False)
    assert {"Nuctech", "Hikvision", "Huawei", "ZTE", "China Railway"} <= {
        w.name for w in config.watches
    }


def test_demo_config_is_yaml_but_not_a_config_before_substitution() -> None:
    data = yaml.safe_load(DEMO.read_text("utf-8"))
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "demo/sources.yaml")
    assert "'{{BASE}}/feed.xml'" in str(caught.value)


# -- config errors ---------------------------------------------------------------------------

FEED = "{name: civil_ge, kind: feed, url: 'https://civil.ge/feed'}"


def feed_with(extra: str) -> str:
    """A config with one feed source carrying `extra` keys."""
    return f"sources:\n  - {{name: civil_ge, kind: feed, url: 'https://civil.ge/feed', {extra}}}\n"


# a portal source without its `portal:` line; cases append keys
PORTAL = (
    "sources:\n  - name: prozorro\n    kind: portal\n"
    "    url: 'https://public-api.prozorro.gov.ua/api/2.5'\n"
)


def test_portal_sources_validate() -> None:
    config = parse_config(yaml.safe_load("""
sources:
  - name: prozorro
    kind: portal
    portal: prozorro
    url: https://public-api.prozorro.gov.ua/api/2.5
    since: 2025-01-01
    page_size: 100
  - name: mtender
    kind: portal
    portal: ocds
    url: https://public.mtender.gov.md/tenders/
  - name: goszakup
    kind: portal
    portal: goszakup
    url: https://ows.goszakup.gov.kz/v3
    token_env: MONITOR_GOSZAKUP_TOKEN
"""))
    prozorro, mtender, goszakup = config.sources
    assert (prozorro.kind, prozorro.portal, prozorro.since, prozorro.page_size) == (
        "portal", "prozorro", date(2025, 1, 1), 100)
    assert prozorro.start_urls == ("https://public-api.prozorro.gov.ua/api/2.5",)
    assert (mtender.portal, mtender.since, mtender.page_size, mtender.token_env) == (
        "ocds", None, None, None)
    assert goszakup.token_env == "MONITOR_GOSZAKUP_TOKEN"


ERRORS = {
    "unknown key in a source": (
        (f"sources:\n  - {FEED}\n"
        "  - {name: oc_media, kind: feed, url: 'https://oc-media.org/feed/', foo: 1}\n"),
        ["sources[1].foo", "unknown key", "allowed: name, kind, url, urls", "follow_links"],
    ),
    "unknown key in selectors": (
        ("sources:\n  - name: ipn\n    kind: page\n    url: https://www.interpressnews.ge/en/\n"
        "    selectors: {links: a.story, headline: h1}\n"),
        [
            "sources[0].selectors.headline",
            "unknown key",
            "allowed: links, title, date, body, next_page",
        ],
    ),
    "unknown top-level key": (
        "watchs:\n  - {name: Nuctech}\n",
        ["watchs: unknown key", "allowed: sources, watches, recipients, smtp, crawl, digest"],
    ),
    "password written into smtp": (
        "smtp: {host: smtp.example.org, password: hunter2}\n",
        ["smtp.password: unknown key", "password_env"],
    ),
    "bad url": (
        "sources:\n  - {name: civil_ge, kind: feed, url: 'htp://civil.ge/feed'}\n",
        ["sources[0].url", "not an http(s) URL", "'htp://civil.ge/feed'"],
    ),
    "url with a space": (
        "sources:\n  - {name: civil_ge, kind: feed, url: 'https://civil.ge/my feed'}\n",
        ["sources[0].url", "'https://civil.ge/my feed'"],
    ),
    "bad url in a list": (
        ("sources:\n  - name: civil_ge\n    kind: feed\n"
        "    urls: ['https://civil.ge/feed', 'civil.ge/ka/feed']\n"),
        ["sources[0].urls[1]", "'civil.ge/ka/feed'"],
    ),
    "url and urls both": (
        feed_with("urls: ['https://civil.ge/ru/feed']"),
        ["sources[0]", "exactly one of `url` or `urls`"],
    ),
    "duplicate source names": (
        f"sources:\n  - {FEED}\n  - {FEED}\n",
        ["sources[1].name", "duplicate 'civil_ge'", "sources[0]"],
    ),
    "duplicate watch names": (
        "watches:\n  - {name: Nuctech}\n  - {name: Nuctech, aliases: [Нуктек]}\n",
        ["watches[1].name", "duplicate 'Nuctech'", "watches[0]"],
    ),
    "wrong type": (
        feed_with("max_items: lots"),
        ["sources[0].max_items", "valid integer", "'lots'"],
    ),
    "wrong boolean": (
        feed_with("follow_links: sometimes"),
        ["sources[0].follow_links", "'sometimes'"],
    ),
    "unknown kind": (
        "sources:\n  - {name: civil_ge, kind: rss, url: 'https://civil.ge/feed'}\n",
        ["sources[0].kind", "'feed', 'page', 'sitemap' or 'portal'", "'rss'"],
    ),
    "name is not a slug": (
        "sources:\n  - {name: Civil.ge, kind: feed, url: 'https://civil.ge/feed'}\n",
        ["sources[0].name", "lowercase slug", "'Civil.ge'"],
    ),
    "page source without selectors": (
        "sources:\n  - {name: ipn, kind: page, url: 'https://www.interpressnews.ge/en/'}\n",
        ["sources[0]", "a `page` source needs `selectors`"],
    ),
    "selectors on a feed": (
        feed_with("selectors: {links: a}"),
        ["sources[0]", "`selectors` only apply to `page` sources, not `feed`"],
    ),
    "bad schedule": (
        feed_with("schedule: every few hours"),
        ["sources[0].schedule", "'every few hours'"],
    ),
    "recipient naming an unknown watch": (
        ("watches:\n  - {name: Nuctech}\n"
        "recipients:\n  - {email: desk@example.org, watches: [Nuctech, Hikvision]}\n"),
        ["recipients[0].watches", "no watch named 'Hikvision'", "watches are: Nuctech"],
    ),
    "bad email": (
        "recipients:\n  - {email: desk-at-example.org}\n",
        ["recipients[0].email", "not an email address", "'desk-at-example.org'"],
    ),
    "empty alias": (
        "watches:\n  - {name: Nuctech, aliases: [Нуктек, '  ']}\n",
        ["watches[0].aliases[1]", "empty alias", "'  '"],
    ),
    "empty keyword": (
        "watches:\n  - {name: Anaklia, keywords: ['']}\n",
        ["watches[0].keywords[0]", "empty alias or keyword", "''"],
    ),
    "topic watch with nothing to look for": (
        "watches:\n  - {name: Anaklia port, match_name: false}\n",
        ["watches[0]", "match_name: false", "aliases", "keywords"],
    ),
    "password_env is not a variable name": (
        "smtp: {host: smtp.example.org, password_env: 'MONITOR SMTP'}\n",
        ["smtp.password_env", "'MONITOR SMTP'"],
    ),
    "smtp port out of range": (
        "smtp: {host: smtp.example.org, port: 70000}\n",
        ["smtp.port", "65535", "70000"],
    ),
    "negative crawl delay": (
        "crawl: {delay: -1}\n",
        ["crawl.delay", "-1"],
    ),
    "top level is a list": (
        "- {name: civil_ge, kind: feed, url: 'https://civil.ge/feed'}\n",
        ["the top level must be a mapping, not list"],
    ),
    "portal source without portal": (
        "sources:\n  - {name: prozorro, kind: portal, url: 'https://public-api.prozorro.gov.ua/api/2.5'}\n",
        ["sources[0]", "a `portal` source needs `portal`", "prozorro, ocds, ted"],
    ),
    "unknown portal": (
        PORTAL + "    portal: ebay\n",
        ["sources[0].portal", "'prozorro', 'ocds'", "'ebay'"],
    ),
    "portal source with urls": (
        ("sources:\n  - name: mtender\n    kind: portal\n    portal: ocds\n"
        "    urls: ['https://public.mtender.gov.md/tenders/']\n"),
        ["sources[0]", "takes one `url`"],
    ),
    "portal key on a feed": (
        feed_with("since: 2025-01-01"),
        ["sources[0]", "`since` only applies to `portal` sources, not `feed`"],
    ),
    "goszakup without a token variable": (
        ("sources:\n  - {name: goszakup, kind: portal, portal: goszakup, "
        "url: 'https://ows.goszakup.gov.kz/v3'}\n"),
        ["sources[0]", "needs `token_env`"],
    ),
    "token variable on a portal without tokens": (
        PORTAL + "    portal: prozorro\n    token_env: PROZORRO_TOKEN\n",
        ["sources[0]", "`token_env` only applies to `goszakup`, not `prozorro`"],
    ),
    "since is not a date": (
        PORTAL + "    portal: prozorro\n    since: last spring\n",
        ["sources[0].since", "'last spring'"],
    ),
    "page size out of range": (
        PORTAL + "    portal: prozorro\n    page_size: 5000\n",
        ["sources[0].page_size", "1000", "5000"],
    ),
    "unknown key on a portal source": (
        PORTAL + "    portal: prozorro\n    offset: '1735484400.068'\n",
        ["sources[0].offset: unknown key", "portal", "since", "page_size"],
    ),
    "a notification URL carrying a token": (
        "recipients:\n  - email: ana@example.org\n"
        "    notify: ['tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123']\n",
        ["recipients[0].notify[0]", "seems to carry a secret", "`notify_env`"],
    ),
    "a value where the variable's name belongs": (
        "recipients:\n  - email: ana@example.org\n    notify_env: ['json://h/x']\n",
        ["recipients[0].notify_env[0]", "the NAME of an environment variable"],
    ),
    "a recipient with no way to reach them": (
        "recipients:\n  - name: desk\n",
        ["recipients[0]", "needs an `email`, or alert channels"],
    ),
    "a recipient without email or name": (
        "recipients:\n  - notify: ['json://127.0.0.1:8080/hook']\n",
        ["recipients[0]", "without `email` needs a `name`"],
    ),
    "two recipients of one name": (
        "recipients:\n  - {name: desk, notify: ['json://h/a']}\n"
        "  - {name: desk, notify: ['json://h/b']}\n",
        ["recipients[1]", "duplicate 'desk'"],
    ),
    "quiet hours that are not a window": (
        "recipients:\n  - {email: ana@example.org, quiet: '22-7'}\n",
        ["recipients[0].quiet", "HH:MM-HH:MM", "'22-7'"],
    ),
    "an empty quiet window": (
        "recipients:\n  - {email: ana@example.org, quiet: '07:00-07:00'}\n",
        ["recipients[0].quiet", "same minute"],
    ),
    "events without immediate alerts, on a recipient": (
        "recipients:\n  - {email: ana@example.org, on: [awarded]}\n",
        ["recipients[0]", "needs `alert: immediate`"],
    ),
    "events without immediate alerts, on a watch": (
        "watches:\n  - {name: Nuctech, on: [awarded]}\n",
        ["watches[0]", "needs `alert: immediate`"],
    ),
    "an event that does not exist": (
        "watches:\n  - {name: Nuctech, alert: immediate, on: [won]}\n",
        ["watches[0].on[0]", "'awarded'", "'won'"],
    ),
    "an alert limit of zero": (
        "recipients:\n  - {email: ana@example.org, alert_limit: 0}\n",
        ["recipients[0].alert_limit"],
    ),
    "several problems listed together": (
        "sources:\n  - {name: civil_ge, kind: rss, url: 'htp://civil.ge'}\n",
        ["2 problems", "sources[0].kind", "'rss'", "sources[0].url", "'htp://civil.ge'"],
    ),
}


@pytest.mark.parametrize(("text", "fragments"), list(ERRORS.values()), ids=list(ERRORS))
def test_config_error_names_file_path_and_value(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    assert caught.value.exit_code == 2


def test_config_error_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "sources.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: config file not found")
    assert caught.value.exit_code == 2


def test_config_error_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: civil_ge\n    kind: feed\n   url: https://civil.ge/feed\n", "utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML at line 4, column 4")
    assert caught.value.exit_code == 2


def test_config_error_tab_indentation_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("watches:\n\t- name: Nuctech\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "not valid YAML at line 2" in str(caught.value)


def test_config_error_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes("watches:\n  - {name: Нуктек}\n".encode("cp1251"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: cannot read config")
    assert caught.value.exit_code == 2


def test_config_error_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}: cannot read config")


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("# nothing yet\n", "utf-8")
    config = load_config(path)
    assert (config.sources, config.watches, config.recipients, config.smtp) == ((), (), (), None)


def test_parse_config_names_its_input() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"sources": [{"name": "x", "kind": "feed", "url": "ftp://x"}]}, "inline")
    assert str(caught.value) == "inline: sources[0].url: not an http(s) URL: 'ftp://x'"


# -- what a valid config gives ----------------------------------------------------------------


def test_unicode_aliases_survive_the_round_trip(write_config: Callable[..., Config]) -> None:
    config = write_config(
        {"watches": [{"name": "Nuctech", "aliases": ["同方威视", "Нуктек", "ნუქტექი"]}]}
    )
    assert [a.text for a in config.watches[0].aliases] == ["同方威视", "Нуктек", "ნუქტექი"]


def test_config_is_frozen(write_config: Callable[..., Config]) -> None:
    config = write_config({"watches": [{"name": "Nuctech"}]})
    with pytest.raises(ValueError, match="frozen"):
        config.watches[0].name = "Hikvision"  # type: ignore[misc]


def test_unknown_source_on_the_command_line(write_config: Callable[..., Config]) -> None:
    config = write_config(
        {"sources": [{"name": "civil_ge", "kind": "feed", "url": "https://civil.ge/feed"}]}
    )
    with pytest.raises(SourceNotFoundError) as caught:
        config.select(["civil_ge", "oc_media"])
    assert "no source named 'oc_media' (sources: civil_ge)" in str(caught.value)
    assert caught.value.exit_code == 2


def test_select_without_names_skips_disabled_sources(write_config: Callable[..., Config]) -> None:
    config = write_config(
        {
            "sources": [
                {"name": "civil_ge", "kind": "feed", "url": "https://civil.ge/feed"},
                {"name": "georgia_today", "kind": "feed", "url": "https://georgiatoday.ge/feed/",
                 "enabled": False},
            ]
        }
    )
    assert [s.name for s in config.select()] == ["civil_ge"]
    assert [s.name for s in config.select(["georgia_today"])] == ["georgia_today"]


# -- the watch list: new keys and the watchlist include ---------------------------------------


def test_notify_url_error_never_repeats_the_url() -> None:
    secret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    with pytest.raises(ConfigError) as err:
        parse_config({"recipients": [{"email": "a@example.org",
                                      "notify": [f"tgram://123456789:{secret}/1"]}]})
    assert secret not in str(err.value) and "123456789" not in str(err.value)
    assert "this tgram:// URL seems to carry a secret" in str(err.value)


def test_unset_secrets_names_unset_notify_env_variables() -> None:
    config = parse_config({"recipients": [
        {"email": "a@example.org", "notify_env": ["SET_URL", "UNSET_URL"]},
        {"name": "ops", "notify_env": ["EMPTY_URL"]}]})
    assert config.unset_secrets({"SET_URL": "json://h/x", "EMPTY_URL": ""}) == [
        "recipient 'a@example.org': the environment variable UNSET_URL (notify_env) is not "
        "set: alerts to that channel will wait in the outbox until it is",
        "recipient 'ops': the environment variable EMPTY_URL (notify_env) is not set: alerts "
        "to that channel will wait in the outbox until it is"]
    assert config.recipient("OPS").key == "ops"
    assert config.recipient("A@example.org").key == "a@example.org"


def test_watch_keys_validate_with_paths_and_values() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"watches": [{"name": "Nuctech", "ids": ["204567890"]}]})
    assert "watches[0].ids[0]" in str(err.value) and "'204567890'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({"watches": [{"name": "ZTE", "aliases": [{"text": "ZTE", "strict": 1}]}]})
    assert "watches[0].aliases[0].strict: unknown key" in str(err.value)
    assert "case_sensitive" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({"watches": [{"name": "A", "rule": {"within": 3}}]})
    assert "watches[0].rule" in str(err.value) and "at least one of" in str(err.value)


def test_watchlist_include_yaml_and_csv(tmp_path: Path) -> None:
    (tmp_path / "extra.yaml").write_text(
        "- {name: Hikvision, aliases: [海康威视]}\n", "utf-8")
    (tmp_path / "names.csv").write_text(
        "name,aliases,tags,priority,ids\n"
        'Nuctech,"Нуктек; ნუქტექი",border,high,GE-NAPR:204567890\n', "utf-8")
    path = tmp_path / "sources.yaml"
    path.write_text("watchlist: [extra.yaml, names.csv]\nwatches:\n  - {name: ZTE}\n", "utf-8")
    config = load_config(path)
    assert [w.name for w in config.watches] == ["ZTE", "Hikvision", "Nuctech"]
    nuctech = config.watches[2]
    assert [a.text for a in nuctech.aliases] == ["Нуктек", "ნუქტექი"]
    assert (nuctech.tags, nuctech.priority, nuctech.ids) == (
        ("border",), "high", ("GE-NAPR:204567890",))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"names.csv": "name,priority\nNuctech,urgent\n"},
         ["names.csv", "row 2 ('Nuctech')", "priority", "'urgent'"]),
        ({"names.csv": "name,colour\nNuctech,red\n"}, ["names.csv", "unknown column 'colour'"]),
        ({"names.yaml": "- {name: Nuctech, alias: [x]}\n"},
         ["names.yaml", "watches[0] ('Nuctech')", "alias: unknown key"]),
        ({}, ["watchlist: file not found", "names.csv"]),
    ],
)
def test_watchlist_errors_name_file_row_and_value(tmp_path: Path, files: dict[str, str],
                                                  expected: list[str]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    include = next(iter(files), "names.csv")
    path = tmp_path / "sources.yaml"
    path.write_text(f"watchlist: {include}\n", "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for part in expected:
        assert part in str(err.value)


def test_watchlist_name_clash_with_the_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("name\nNuctech\n", "utf-8")
    path = tmp_path / "sources.yaml"
    path.write_text("watchlist: names.csv\nwatches:\n  - {name: Nuctech}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"'Nuctech' is also defined in the config"):
        load_config(path)


# -- snapshots for the crawler child ---------------------------------------------------------


def same_fields(a: Config, b: Config) -> bool:
    """Equal but for the included files' names (a snapshot has their contents inlined)."""
    return all(getattr(a, f) == getattr(b, f) for f in Config.model_fields
               if f not in ("watchlist", "web")) and (
        a.web.model_copy(update={"watch_file": None}) == b.web.model_copy(
            update={"watch_file": None}))


def test_snapshot_is_the_validated_config_with_its_watchlist_files_inlined(
    tmp_path: Path
) -> None:
    (tmp_path / "names.csv").write_text(
        "name,aliases,ids\nNuctech,\"Нуктек; ნუქტექი\",GE-NAPR:204567890\n", "utf-8")
    path = tmp_path / "sources.yaml"
    path.write_text("watchlist: names.csv\nwatches:\n  - {name: ZTE}\n", "utf-8")
    config = load_config(path)
    snapshot = write_snapshot(config, tmp_path / "run")

    (tmp_path / "names.csv").unlink()  # the child never reads the originals
    path.write_text("sources: [oops\n", "utf-8")
    again = load_config(snapshot)
    assert same_fields(again, config)
    assert [w.name for w in again.watches] == ["ZTE", "Nuctech"]
    assert write_snapshot(config, tmp_path / "run") == snapshot  # same content, same file


@pytest.mark.parametrize("text", [
    None,  # the shipped config
    "sources: [{name: a, kind: feed, url: 'https://a.example/rss'}]\n"
    "smtp: {host: 127.0.0.1}\nrecipients: [{email: desk@example.org}]\n",
    "watches: [{name: Nuctech, alert: immediate, on: [awarded, winner_changed]}]\n"
    "recipients:\n  - {email: desk@example.org, notify: ['json://127.0.0.1:8080/hook'],\n"
    "     notify_env: [TELEGRAM_URL], quiet: '22:00 - 07:00', alert_limit: 5}\n"
    "  - {name: ops, notify_env: [OPS_URL], alert: immediate, on: [new]}\n",
], ids=["shipped", "defaults only", "alerts"])
def test_snapshot_round_trips(tmp_path: Path, text: str | None) -> None:
    path = SHIPPED
    if text is not None:
        path = tmp_path / "sources.yaml"
        path.write_text(text, "utf-8")
    config = load_config(path)
    assert same_fields(load_config(write_snapshot(config, tmp_path / "run")), config)


def test_snapshot_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "run"
    blocker.write_text("a file where the directory should be", "utf-8")
    with pytest.raises(ConfigError, match="cannot write the config snapshot"):
        write_snapshot(load_config(SHIPPED), blocker)
