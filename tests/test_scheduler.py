"""The real daemon (`monitor run`) as a subprocess against local sites, with schedules of
seconds: jobs fire, stop and restart are safe, overdue work runs once, one daemon per state
directory, a bad config on SIGHUP is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import alive, children_of
from werkzeug import Request, Response

from monitor.store import open_store

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>{base}/</link><description>d</description>
{items}</channel></rss>"""
ITEM = """<item><title>{title}</title><link>{base}/a/{n}.html</link><guid>wire-{n}</guid>
<pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate><description>{title}.</description></item>"""


def feed(base: str, titles: list[str]) -> str:
    items = "".join(ITEM.format(base=base, n=i, title=t) for i, t in enumerate(titles, 1))
    return RSS.format(base=base, items=items)


class Daemon:
    """`monitor run` in its own process group, its log captured to a file."""

    def __init__(self, config: Path, state: Path) -> None:
        self.config, self.state = config, state
        self.log_path = state.parent / f"daemon-{time.monotonic_ns()}.log"
        state.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(config), "--state",
                 str(state), "run"],
                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def wait_for(self, check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what or check}; daemon log:\n{self.log}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill_all(self) -> None:
        for pid in [self.proc.pid]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


@pytest.fixture
def daemons() -> Iterator[Callable[[Path, Path], Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, state: Path) -> Daemon:
        daemon = Daemon(config, state)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill_all()


def runs(state: Path, source: str | None = None) -> list[dict[str, Any]]:
    if not (state / "monitor.db").exists():
        return []
    with open_store(state) as store:
        rows = store._rows("SELECT * FROM runs ORDER BY id")
    return [r for r in rows if source is None or r["source"] == source]


def finished(state: Path, source: str, status: str | None = None) -> list[dict[str, Any]]:
    return [r for r in runs(state, source)
            if r["status"] != "running" and (status is None or r["status"] == status)]


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def base_config(site, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {
        "sources": [{"name": "wire", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "schedule": "every 2s"}],
        "watches": [{"name": "Nuctech", "aliases": ["Нуктек"]}],
        "crawl": {"delay": 0, "retries": 0, "timeout": 5, "http_cache": False},
        "daemon": {"stop_grace": 2},
    }
    data.update(extra)
    return data


def serve_feed(site, titles: list[str]) -> str:  # type: ignore[no-untyped-def]
    base = site.url_for("").rstrip("/")
    site.expect_request("/feed.xml").respond_with_data(
        feed(base, titles), content_type="application/rss+xml")
    return base


def test_daemon_crawls_on_schedule_and_mails_digests(site, smtp_server, tmp_path, daemons):
    serve_feed(site, ["Nuctech wins the Sarpi tender", "Weather"])
    config = write(tmp_path / "sources.yaml", base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "every 3s"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
    ))
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: len(finished(state, "wire", "ok")) >= 3, what="3 runs")
    daemon.wait_for(lambda: smtp_server.messages, what="a digest")
    assert daemon.stop() == 0
    [message] = smtp_server.messages
    assert message["Subject"] == "monitor: 1 new (Nuctech 1)"
    with open_store(state) as store:
        assert store.count("items") == 2  # every later run saw the same two: no duplicates
    log = daemon.log
    assert "event=daemon_start" in log and "event=daemon_stop" in log
    assert "event=job_end job=crawl source=wire status=ok" in log
    assert (state / "logs" / "monitor.log").read_text("utf-8").count("event=job_end") >= 3


def test_second_daemon_on_one_state_directory_is_refused(site, tmp_path, daemons):
    serve_feed(site, ["Weather"])
    config = write(tmp_path / "sources.yaml", base_config(site))
    state = tmp_path / "state"
    first = daemons(config, state)
    first.wait_for(lambda: "event=daemon_start" in first.log, what="start")
    second = daemons(config, state)
    assert second.proc.wait(30) == 1
    assert f"another `monitor run` is already running (pid {first.proc.pid}" in second.log
    assert first.proc.poll() is None
    assert first.stop() == 0


def test_sigterm_mid_crawl_records_interrupted_and_keeps_items(site, tmp_path, daemons):
    base = site.url_for("").rstrip("/")

    def slow(request: Request) -> Response:
        time.sleep(20)
        return Response("<html><body>late</body></html>", content_type="text/html")

    site.expect_request("/list.html").respond_with_data(
        f'<a href="{base}/fast.html">1</a><a href="{base}/slow.html">2</a>',
        content_type="text/html")
    site.expect_request("/fast.html").respond_with_data(
        "<html><body><article><h1>Нуктек</h1><p>Нуктек поставит сканеры на границу, "
        "сообщила таможня в пятницу.</p></article></body></html>", content_type="text/html")
    site.expect_request("/slow.html").respond_with_handler(slow)
    data = base_config(site)
    data["sources"] = [{"name": "listing", "kind": "page", "url": f"{base}/list.html",
                        "schedule": "every 1h", "selectors": {"links": "a"}}]
    data["crawl"]["timeout"] = 60
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: _items(state) == 1, what="the fast article stored")
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 15  # grace 2 s, then killed
    [run] = runs(state, "listing")
    assert run["status"] == "interrupted"
    assert _items(state) == 1


def test_kill_9_of_the_daemon_mid_crawl_then_restart(site, smtp_server, tmp_path, daemons):
    base = site.url_for("").rstrip("/")

    def slow_article(request: Request) -> Response:
        time.sleep(4)
        return Response("<html><body><article><p>Nuctech scanners arrive at the border "
                        "crossing, the customs service said.</p></article></body></html>",
                        content_type="text/html")

    site.expect_request("/feed.xml").respond_with_data(
        feed(base, ["Nuctech scanners", "Weather"]), content_type="application/rss+xml")
    site.expect_request("/a/1.html").respond_with_handler(slow_article)
    site.expect_request("/a/2.html").respond_with_data("<html><body><p>Sun.</p></body></html>",
                                                       content_type="text/html")
    data = base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "every 2s"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
    )
    data["sources"][0].update({"follow_links": True, "schedule": "every 1h"})
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: runs(state, "wire"), what="a crawl started")
    os.kill(daemon.proc.pid, signal.SIGKILL)  # the daemon only: its crawler child goes on
    daemon.proc.wait()

    again = daemons(config, state)
    # the orphaned crawl finishes on its own; nothing stays `running`
    again.wait_for(lambda: runs(state) and all(r["status"] != "running" for r in runs(state)),
                   what="no run left running")
    again.wait_for(lambda: smtp_server.messages, what="the digest")
    time.sleep(5)  # two more digest periods with nothing new: no second email
    assert again.stop() == 0
    assert len(smtp_server.messages) == 1
    assert "Nuctech" in smtp_server.messages[0]["Subject"]
    with open_store(state) as store:
        keys = [r["key"] for r in store._rows("SELECT key FROM items")]
    assert sorted(keys) == ["wire-1", "wire-2"]


def serve_feed_caught_mid_extraction(site) -> str:  # type: ignore[no-untyped-def]
    """A feed whose first article is extracted (the extraction pool's workers start) and
    whose second hangs: a crawl that stays mid-extraction."""
    base = site.url_for("").rstrip("/")

    def hang(request: Request) -> Response:
        time.sleep(30)
        return Response("late", content_type="text/html")

    site.expect_request("/feed.xml").respond_with_data(
        feed(base, ["Customs", "Weather"]), content_type="application/rss+xml")
    site.expect_request("/a/1.html").respond_with_data(
        "<html><body><article><p>Нуктек поставит сканеры на границу, сообщила таможня в "
        "пятницу.</p></article></body></html>", content_type="text/html")
    site.expect_request("/a/2.html").respond_with_handler(hang)
    return base


def crawler_with_workers(daemon: Daemon, state: Path) -> tuple[dict[str, Any], list[int]]:
    """The open run of a crawl whose extraction workers are up, and those workers."""
    def check() -> tuple[dict[str, Any], list[int]] | None:
        open_runs = [r for r in runs(state) if r["status"] == "running" and r["pid"]]
        if not open_runs or not _items(state):
            return None
        workers = children_of(open_runs[0]["pid"])
        return (open_runs[0], workers) if workers else None

    return daemon.wait_for(check, what="a crawl child with extraction workers")


def start_mid_extraction(site, tmp_path: Path, daemons, schedule: str,  # type: ignore[no-untyped-def]
                         **daemon_settings: Any) -> tuple[Daemon, Path, dict[str, Any], list[int]]:
    """A daemon whose crawl of a feed is caught mid-extraction: the daemon, its state, the
    open run and the crawler child's extraction workers."""
    serve_feed_caught_mid_extraction(site)
    data = base_config(site)
    data["sources"][0].update({"follow_links": True, "schedule": schedule})
    data["crawl"]["timeout"] = 60
    data["daemon"].update(daemon_settings)
    state = tmp_path / "state"
    daemon = daemons(write(tmp_path / "sources.yaml", data), state)
    run, workers = crawler_with_workers(daemon, state)
    return daemon, state, run, workers


def test_kill_9_of_a_crawl_child_is_recorded_and_the_daemon_goes_on(site, tmp_path, daemons):
    daemon, state, run, workers = start_mid_extraction(site, tmp_path, daemons, "every 3s")
    os.kill(run["pid"], signal.SIGKILL)
    closed = daemon.wait_for(lambda: finished(state, "wire"), timeout=15,
                             what="the run closed")[0]
    assert closed["status"] == "error"
    assert "crawler killed by signal 9 (SIGKILL; out of memory?)" in closed["error"]
    assert not any(alive(w) for w in workers)
    daemon.wait_for(lambda: len(runs(state, "wire")) >= 2, what="the next run")
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0


def test_crawl_timeout_kills_a_hung_crawl_and_its_workers(site, tmp_path, daemons):
    daemon, state, run, workers = start_mid_extraction(site, tmp_path, daemons, "every 1h",
                                                       crawl_timeout=8)
    closed = daemon.wait_for(lambda: finished(state, "wire"), timeout=25,
                             what="the run closed")[0]
    assert closed["status"] == "timeout"
    assert not alive(run["pid"]) and not any(alive(w) for w in workers)
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0


def test_sigterm_during_extraction_stops_the_daemon_and_its_workers(site, tmp_path, daemons):
    daemon, state, run, workers = start_mid_extraction(site, tmp_path, daemons, "every 1h")
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 15  # stop_grace 2 s, then killed
    assert not alive(run["pid"]) and not any(alive(w) for w in workers)
    [closed] = runs(state, "wire")
    assert closed["status"] == "interrupted"
    assert _items(state) == 1


def test_overdue_source_runs_once_at_start(site, tmp_path, daemons):
    serve_feed(site, ["Weather"])
    data = base_config(site)
    data["sources"][0]["schedule"] = "every 1h"
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    first = daemons(config, state)
    first.wait_for(lambda: finished(state, "wire"), what="the first run")
    assert first.stop() == 0

    # not due yet: a restart does not crawl
    second = daemons(config, state)
    second.wait_for(lambda: "event=daemon_start" in second.log, what="start")
    time.sleep(3)
    assert second.stop() == 0
    assert len(runs(state, "wire")) == 1

    # five missed intervals: one catch-up run, not five
    with open_store(state) as store:
        store.db.conn.execute("UPDATE runs SET started_at = datetime('now', '-5 hours')")
    third = daemons(config, state)
    third.wait_for(lambda: len(finished(state, "wire")) == 2, what="the catch-up run")
    time.sleep(4)
    assert third.stop() == 0
    assert len(runs(state, "wire")) == 2
    assert "overdue=True" in third.log


def test_missed_digest_is_sent_once_at_start(site, smtp_server, tmp_path, daemons):
    serve_feed(site, ["Nuctech wins"])
    data = base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "daily 07:30"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
    )
    data["sources"][0]["schedule"] = "every 1h"
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    from monitor.config import load_config
    from monitor.crawl import crawl

    crawl(load_config(config), state)  # a match to report; the source is not due at start
    with open_store(state) as store:  # the last digest went out long ago
        store.mark_digest("desk@example.org", "2026-01-01T07:30:00+00:00")
    daemon = daemons(config, state)
    daemon.wait_for(lambda: smtp_server.messages, what="the missed digest")
    time.sleep(3)
    assert daemon.stop() == 0
    assert len(smtp_server.messages) == 1
    assert "overdue=True" in daemon.log
    assert runs(state, "wire")[-1]["status"] == "ok" and len(runs(state, "wire")) == 1


def test_missed_digest_waits_for_the_catch_up_crawls_of_a_start(
        site, smtp_server, tmp_path, daemons):
    """The daemon was down overnight: the source is overdue and so is the digest. The digest
    goes out after the catch-up crawl, with what that crawl found."""
    base = site.url_for("").rstrip("/")
    titles = ["Weather"]

    def slow_feed(request: Request) -> Response:
        time.sleep(2)  # the catch-up crawl takes a while
        return Response(feed(base, titles), content_type="application/rss+xml")

    site.expect_request("/feed.xml").respond_with_handler(slow_feed)
    data = base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "daily 07:30"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
    )
    data["sources"][0]["schedule"] = "every 1h"
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    from monitor.config import load_config
    from monitor.crawl import crawl

    crawl(load_config(config), state)
    titles.append("Nuctech wins the Sarpi tender")  # published while the daemon was down
    with open_store(state) as store:
        store.db.conn.execute("UPDATE runs SET started_at = datetime('now', '-5 hours')")
        store.mark_digest("desk@example.org", "2026-01-01T07:30:00+00:00")
    daemon = daemons(config, state)
    daemon.wait_for(lambda: smtp_server.messages, what="the missed digest")
    time.sleep(2)
    assert daemon.stop() == 0
    [message] = smtp_server.messages
    assert message["Subject"] == "monitor: 1 new (Nuctech 1)"
    assert "event=digest_waits" in daemon.log and "sources=wire" in daemon.log


def test_sighup_with_a_broken_config_keeps_the_old_one(site, tmp_path, daemons):
    serve_feed(site, ["Weather"])
    data = base_config(site)
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: finished(state, "wire"), what="a first run")

    config.write_text("sources:\n  - name: wire\n    kind: feeed\n", "utf-8")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for(lambda: "event=config_rejected" in daemon.log, what="the refusal")
    assert "sources[0].kind" in daemon.log
    count = len(runs(state, "wire"))
    # the crawls go on with the config the daemon kept, not the broken file on disk
    daemon.wait_for(lambda: len(finished(state, "wire")) > count + 1, what="crawls go on")
    assert [r["status"] for r in finished(state, "wire")[count:]] == ["ok"] * len(
        finished(state, "wire")[count:]), finished(state, "wire")

    data["sources"].append({"name": "second", "kind": "feed", "url": site.url_for("/feed.xml"),
                            "schedule": "every 1h"})
    write(config, data)
    daemon.signal(signal.SIGHUP)
    daemon.wait_for(lambda: finished(state, "second"), what="the new source crawled")
    assert "event=config_reloaded" in daemon.log
    assert daemon.stop() == 0


def _items(state: Path) -> int:
    if not (state / "monitor.db").exists():
        return 0
    with open_store(state) as store:
        return store.count("items")


def test_failing_source_is_named_in_the_digest_then_recovers_once(
    site, smtp_server, tmp_path, daemons
):
    base = site.url_for("").rstrip("/")
    mode = {"up": False}

    def flaky(request: Request) -> Response:
        if not mode["up"]:
            return Response("oops", status=500)
        return Response(feed(base, ["Weather"]), content_type="application/rss+xml")

    site.expect_request("/feed.xml").respond_with_handler(flaky)
    data = base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "every 3s"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
        health={"failing_after": 2},
    )
    data["sources"][0]["schedule"] = "every 1s"
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    daemon = daemons(config, state)

    def texts() -> list[str]:
        return [m.get_body(("plain",)).get_content() for m in smtp_server.messages]

    daemon.wait_for(lambda: any("wire is FAILING" in t for t in texts()), timeout=45,
                    what="a digest naming the failing source")
    failing = next(t for t in texts() if "wire is FAILING" in t)
    assert "HTTP 500 from" in failing
    assert "need" in smtp_server.messages[0]["Subject"]

    mode["up"] = True
    daemon.wait_for(lambda: any("wire has RECOVERED" in t for t in texts()), timeout=45,
                    what="a digest saying it recovered")
    time.sleep(7)  # two more digest periods: nothing to say, no email
    assert daemon.stop() == 0
    sent = "\n=====\n".join(texts())
    assert sum("wire has RECOVERED" in t for t in texts()) == 1, sent
    assert sum("wire is FAILING" in t for t in texts()) == 1, sent  # once, not every digest
    # the digest jobs' log lines say what happened to the mail
    assert "job=digest recipient=desk@example.org status=sent" in daemon.log
    assert "status=empty" in daemon.log and "status=queued" not in daemon.log


def test_source_whose_layout_changes_becomes_suspect(site, smtp_server, tmp_path, daemons):
    base = site.url_for("").rstrip("/")
    mode = {"redesigned": False}

    def page(request: Request) -> Response:
        titles = [] if mode["redesigned"] else ["Nuctech", "Weather"]
        return Response(feed(base, titles), content_type="application/rss+xml")

    site.expect_request("/feed.xml").respond_with_handler(page)
    data = base_config(
        site,
        recipients=[{"email": "desk@example.org", "digest": "every 3s"}],
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
        health={"suspect_after": 2},
    )
    data["sources"][0]["schedule"] = "every 1s"
    config = write(tmp_path / "sources.yaml", data)
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: finished(state, "wire", "ok"), what="a first run with items")
    mode["redesigned"] = True  # still HTTP 200 and a valid feed, but nothing in it

    def texts() -> list[str]:
        return [m.get_body(("plain",)).get_content() for m in smtp_server.messages]

    daemon.wait_for(lambda: any("wire is SUSPECT" in t for t in texts()), timeout=45,
                    what="a digest naming the suspect source")
    assert daemon.stop() == 0
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "--state", str(state),
         "status", "--json"], capture_output=True, text=True, check=True)
    import json

    [wire] = json.loads(status.stdout)["sources"]
    assert wire["health"] == "suspect"


def test_log_lines_are_key_value_and_never_carry_a_secret(tmp_path, monkeypatch):
    import io
    import logging

    from monitor.config import parse_config
    from monitor.scheduler import configure_logging, log_event

    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "hunter2-very-secret")
    config = parse_config({"smtp": {"host": "mail.example.org", "username": "desk",
                                    "password_env": "MONITOR_SMTP_PASSWORD"}})
    stream = io.StringIO()
    path = configure_logging(tmp_path, config, stream=stream)
    try:
        log_event("digest_not_sent", logging.WARNING, recipient="a@b.org",
                  error="535 auth failed for desk:hunter2-very-secret")
    finally:
        for name in ("monitor", "apscheduler"):
            target = logging.getLogger(name)
            for handler in target.handlers:
                handler.close()
            target.handlers = []
            target.propagate = True
    for text in (stream.getvalue(), path.read_text("utf-8")):
        assert "hunter2-very-secret" not in text
        assert 'event=digest_not_sent recipient=a@b.org error="535 auth failed for ' \
               'desk:********"' in text


def test_a_change_to_the_web_watch_file_is_applied_from_the_next_job(
        tmp_path: Path, write_config: Callable[..., Any]) -> None:
    from monitor import watchfile
    from monitor.scheduler import Daemon

    config = write_config({"sources": [{"name": "wire", "kind": "feed",
                                        "url": "http://127.0.0.1:9/feed.xml"}],
                           "watches": [{"name": "Huawei"}]})
    daemon = Daemon(config.path, tmp_path / "state")
    daemon.config = config
    daemon._watch_stamp = None
    reloads: list[bool] = []
    daemon.reload = lambda: reloads.append(True) or True  # type: ignore[method-assign]
    daemon._follow_watch_file()
    assert reloads == []  # no file, nothing changed
    watchfile.add(config.watch_file, "mutes", {"watch": "Huawei", "alias": "Huawei"})
    daemon._follow_watch_file()
    daemon._follow_watch_file()
    assert reloads == [True]  # once per change


def test_daemon_sends_an_immediate_alert_once_at_the_crawls_end(site, notify_sink, tmp_path,
                                                                 daemons):
    serve_feed(site, ["Nuctech wins the Sarpi tender", "Weather"])
    config = write(tmp_path / "sources.yaml", base_config(
        site,
        watches=[{"name": "Nuctech", "aliases": ["Нуктек"], "alert": "immediate"}],
        # alerts only: no email, so no digest job
        recipients=[{"name": "desk", "notify": [notify_sink.url()]}],
    ))
    state = tmp_path / "state"
    daemon = daemons(config, state)
    daemon.wait_for(lambda: notify_sink.messages, what="an alert")
    daemon.wait_for(lambda: len(finished(state, "wire", "ok")) >= 3, what="3 runs")
    assert daemon.stop() == 0
    [message] = notify_sink.messages  # later runs found nothing new: nothing sent again
    assert message["title"] == "Nuctech: Nuctech wins the Sarpi tender"
    log = daemon.log
    assert "event=alert_queued alert_id=1 recipient=desk findings=1" in log
    assert (f"event=alert_sent outbox_id=1 recipient=desk "
            f"via=json://127.0.0.1:{notify_sink.port}") in log
    assert "job=digest" not in log


def test_log_lines_never_carry_a_notification_url_or_its_token(tmp_path, monkeypatch):
    import io
    import logging

    from monitor.config import parse_config
    from monitor.scheduler import configure_logging, log_event

    token = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    url = f"tgram://123456789:{token}/-1001234567890"
    monkeypatch.setenv("DESK_TELEGRAM_URL", url)
    config = parse_config({"recipients": [{"name": "desk",
                                           "notify_env": ["DESK_TELEGRAM_URL"]}]})
    stream = io.StringIO()
    path = configure_logging(tmp_path, config, stream=stream)
    try:
        log_event("alert_not_sent", logging.WARNING, recipient="desk",
                  error=f"could not reach {url}; the bot {token} was refused")
    finally:
        for name in ("monitor", "apscheduler"):
            target = logging.getLogger(name)
            for handler in target.handlers:
                handler.close()
            target.handlers = []
            target.propagate = True
    for text in (stream.getvalue(), path.read_text("utf-8")):
        assert token not in text and url not in text
        assert "could not reach tgram://***; the bot *** was refused" in text


def test_the_outbox_tick_sends_what_quiet_hours_held_once_they_end(
        tmp_path: Path, write_config: Callable[..., Any], notify_sink) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.match import Matcher
    from monitor.models import Item
    from monitor.normalise import content_hash
    from monitor.scheduler import Daemon

    now = datetime.now(UTC)
    quiet = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    data = {"watches": [{"name": "Nuctech", "alert": "immediate"}],
            "recipients": [{"name": "desk", "notify": [notify_sink.url()], "quiet": quiet}]}
    config = write_config(data)
    state = tmp_path / "state"
    with open_store(state) as store:
        item = Item(source="wire", key="1", url="https://wire.example/1", title="Nuctech wins",
                    text="Nuctech won.", published_at=None,
                    content_hash=content_hash("Nuctech wins", "Nuctech won."))
        store.add(item, Matcher(config.watches).match(item))
    daemon = Daemon(config.path, state)
    daemon.config = config
    daemon._outbox_job()  # quiet now: held, and looked for again at the next tick
    assert notify_sink.attempts == 0 and daemon._alerts_waiting

    daemon.config = write_config({**data, "recipients": [{**data["recipients"][0],
                                                          "quiet": None}]})
    daemon._outbox_job()  # the window is over
    assert [m["title"] for m in notify_sink.messages] == ["Nuctech: Nuctech wins"]
    assert not daemon._alerts_waiting
    daemon._outbox_job()
    assert notify_sink.attempts == 1
