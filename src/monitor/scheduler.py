"""`monitor run`: the daemon. Crawls each source on its schedule and sends each recipient's
digest on theirs, and never lets a source go quiet without saying so.

- APScheduler 3.11 `BlockingScheduler`, in-memory jobs rebuilt from the config at every start
  and reload (no job store to share or to replay: what ran last is in SQLite, in `runs` and
  `digests`). `coalesce`, `max_instances=1` and a real `misfire_grace_time` for every job.
- Each crawl is a child process (`monitor.crawl.crawl`, the code path of `monitor crawl`)
  with a hard time limit; a hung or leaking crawl is killed and recorded as `timeout`.
- On start, sources whose next run fell due while the daemon was down run once, and a digest
  that was due is sent once, after those catch-up crawls (so it has what they found; it
  waits at most as long as they may take). Runs left `running` by a crawler that is gone
  are closed.
- One daemon per state directory (`<state>/monitor.pid`, an flock). SIGHUP re-reads the
  config (a bad one is refused and the old one kept); SIGTERM/SIGINT stop scheduling, give
  running crawls `daemon.stop_grace` seconds, then kill them (their runs: `interrupted`).
- A crawl's end queues and delivers its immediate alerts (`monitor.alerts`); the outbox tick
  (every minute) retries what failed and queues what quiet hours or the hourly limit held.
- Logs: one line per event, `key=value`, to stderr and `<state>/logs/monitor.log` (rotated);
  no secret (the SMTP password, an Apprise URL or any part of one) ever reaches them.
"""

from __future__ import annotations

import fcntl
import logging
import logging.handlers
import os
import signal
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from monitor import notify
from monitor.alerts import after_crawl, queue_alerts
from monitor.config import Config, ScheduleSpec, Source, load_config
from monitor.crawl import crawl
from monitor.errors import MonitorError
from monitor.evidence import prune
from monitor.mail import deliver, queue_digests
from monitor.redact import redact
from monitor.store import open_store

__all__ = ["Daemon", "DaemonLock", "DaemonRunningError", "configure_logging", "daemon_pid",
           "log_event"]

logger = logging.getLogger("monitor.daemon")

LOCK_NAME = "monitor.pid"
# queued digests whose SMTP server was down are retried this often (each has its back-off)
OUTBOX_RETRY_S = 60


class DaemonRunningError(MonitorError):
    """Raised when another `monitor run` holds the state directory, from `monitor.scheduler`."""

    exit_code = 1


# -- logging --------------------------------------------------------------------------------


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
    return text


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One line per event: `event=job_end source=civil_ge status=ok seconds=4.2`."""
    parts = [f"event={event}"] + [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
    logger.log(level, " ".join(parts))


class _Redact(logging.Filter):
    """Belt and braces: no secret's value ever reaches a log line; an Apprise URL shows as
    its label, its secret-looking parts as ***."""

    def __init__(self, secrets: Iterable[str], urls: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]
        self.urls = [u for u in urls if u]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets or self.urls:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "********")
            record.msg, record.args = redact(message, self.urls), None
        return True


def configure_logging(state_dir: Path, config: Config | None = None, *,
                      stream: IO[str] | None = None) -> Path:
    """Log daemon events to stderr and `<state>/logs/monitor.log` (5 x 5 MB, rotated)."""
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "monitor.log"
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                  datefmt="%Y-%m-%dT%H:%M:%S%z")
    secrets, urls = [], []
    if config is not None and config.smtp is not None and config.smtp.password_env:
        secrets.append(os.environ.get(config.smtp.password_env, ""))
    if config is not None:
        urls = notify.urls(config)
    redact = _Redact(secrets, urls)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler, logging.StreamHandler(stream)]
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
    for name in ("monitor", "apscheduler"):
        target = logging.getLogger(name)
        target.handlers = list(handlers)
        target.setLevel(logging.INFO)
        target.propagate = False
    # APScheduler's own lines duplicate our job_* events (skips and misses: _on_job_event)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    return path


# -- one daemon per state directory ---------------------------------------------------------


class DaemonLock:
    """`<state>/monitor.pid`: an flock held for the daemon's life, with its pid inside."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115  (held while running)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            pid = daemon_pid(self.path.parent)
            raise DaemonRunningError(
                f"{self.path.parent}: another `monitor run` is already running "
                f"(pid {pid or 'unknown'}, lock file {self.path}); one daemon per state "
                "directory: stop it first, or use another --state"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.close()
            self._file = None


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the daemon running on this state directory, or None."""
    path = Path(state_dir) / LOCK_NAME
    try:
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None
    except FileNotFoundError:
        return None


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the daemon -----------------------------------------------------------------------------


class Daemon:
    """Build with the config file and state directory, then `run()` (blocks until stopped)."""

    def __init__(self, config_path: str | Path, state_dir: str | Path) -> None:
        self.config_path = Path(config_path)
        self.state_dir = Path(state_dir).resolve()
        self.config: Config | None = None
        self.scheduler: BlockingScheduler | None = None
        self._cancel = threading.Event()
        self._lock = DaemonLock(self.state_dir)
        self._reload_lock = threading.Lock()
        self._stop_lock = threading.Lock()
        # job id -> the schedule text it was built from, to tell changed jobs on reload
        self._schedules: dict[str, str] = {}
        # overdue sources whose catch-up crawl has not finished: a digest waits for them
        self._catch_up: set[str] = set()
        self._caught_up = threading.Condition()
        # when the web's watch file (mutes, watches from searches) was last read
        self._watch_stamp: float | None = None
        # findings may wait for an alert (quiet hours, the hourly limit, a crawl's end that
        # failed or was killed before queueing): the outbox tick looks for them then only,
        # and once after a start
        self._alerts_waiting = True

    # -- lifecycle

    def run(self) -> None:
        self._lock.acquire()
        try:
            self.config = load_config(self.config_path)
            self.config.require_sources()
            self._watch_stamp = _mtime(self.config.watch_file)
            self._close_stale_runs()
            tz = ZoneInfo(self.config.daemon.timezone)
            self.scheduler = BlockingScheduler(
                timezone=tz,
                executors={
                    "crawls": ThreadPoolExecutor(self.config.daemon.max_parallel_crawls),
                    "default": ThreadPoolExecutor(4),
                },
                job_defaults={
                    "coalesce": True,
                    "max_instances": 1,
                    "misfire_grace_time": int(self.config.daemon.misfire_grace),
                },
            )
            self._schedule(self.config)
            self.scheduler.add_listener(self._on_job_event,
                                        EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
            self._install_signals()
            log_event("daemon_start", pid=os.getpid(), config=self.config_path,
                      state=self.state_dir, sources=len(self._crawl_job_ids()),
                      recipients=len(self.config.recipients), timezone=tz.key)
            self.scheduler.start()  # returns after stop()
        finally:
            self._lock.release()
        log_event("daemon_stop", pid=os.getpid())

    def stop(self, reason: str = "signal") -> None:
        """Stop scheduling; running crawls get stop_grace seconds, then are killed."""
        with self._stop_lock:  # a second signal while stopping changes nothing
            if self._cancel.is_set() or self.scheduler is None:
                return
            self._cancel.set()
        log_event("daemon_stopping", reason=reason, grace=self._grace())
        # waits for running jobs, which return once their crawl child is gone
        self.scheduler.shutdown(wait=True)

    def _grace(self) -> float:
        return self.config.daemon.stop_grace if self.config else 0

    def reload(self) -> bool:
        """Re-read the config; a bad one is refused and the running one kept."""
        with self._reload_lock:
            try:
                config = load_config(self.config_path)
                config.require_sources()
            except MonitorError as exc:
                log_event("config_rejected", logging.ERROR, error=str(exc),
                          keeping="the previous config")
                return False
            self.config = config
            self._schedule(config)
            log_event("config_reloaded", sources=len(self._crawl_job_ids()),
                      recipients=len(config.recipients))
            return True

    def _install_signals(self) -> None:
        def on_stop(signum: int, frame: object) -> None:
            # never touch the scheduler inside a signal handler: hand it to a thread
            threading.Thread(target=self.stop, args=(signal.Signals(signum).name,),
                             name="stop").start()

        def on_reload(signum: int, frame: object) -> None:
            threading.Thread(target=self.reload, name="reload").start()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    def _close_stale_runs(self) -> None:
        """Runs still `running` whose crawler process is gone (kill -9, power loss)."""
        with open_store(self.state_dir) as store:
            for run in store.running_runs():
                if _alive(run.pid):
                    continue  # a crawl left behind by a killed daemon, still finishing
                store.close_runs([run.id], "interrupted",
                                 f"crawler process {run.pid} was gone when the daemon "
                                 "started (killed or crashed); what it stored is kept")
                log_event("run_closed", logging.WARNING, source=run.source,
                          run_id=run.id, status="interrupted")

    # -- jobs

    def _crawl_job_ids(self) -> list[str]:
        assert self.scheduler is not None
        return [job.id for job in self.scheduler.get_jobs() if job.id.startswith("crawl:")]

    def _schedule(self, config: Config) -> None:
        """Make the jobs match the config. A job whose schedule did not change keeps its
        timing; a new or changed one starts from the last run recorded in the database."""
        assert self.scheduler is not None
        tz = ZoneInfo(config.daemon.timezone)
        now = datetime.now(UTC)
        with open_store(self.state_dir) as store:
            last_started = store.last_started()
            last_digest = {r.key: store.last_digest_at(r.key) for r in config.recipients}
        wanted: dict[str, tuple[ScheduleSpec, Any, tuple[Any, ...], str, datetime | None]] = {}
        for source in config.sources:
            if not source.enabled:
                continue
            spec = config.schedule_of(source)
            due = _due(spec, _parse(last_started.get(source.name)), now, tz)
            wanted[f"crawl:{source.name}"] = (spec, self._crawl_job, (source.name,), "crawls",
                                              due)
        for recipient in config.recipients:
            if recipient.email is None:
                continue  # alerts only: digests go by email
            spec = config.digest_schedule_of(recipient)
            last = _parse(last_digest.get(recipient.key))
            # a digest is never sent at a first start; after that, a missed one is sent once
            due = _due(spec, last, now, tz) if last is not None else None
            wanted[f"digest:{recipient.key}"] = (spec, self._digest_job, (recipient.key,),
                                                 "default", due)
        for job in self.scheduler.get_jobs():
            if job.id.startswith(("crawl:", "digest:")) and job.id not in wanted:
                job.remove()
                self._schedules.pop(job.id, None)
                log_event("job_removed", job=job.id)
        for job_id, (spec, func, args, executor, due) in wanted.items():
            existing = self.scheduler.get_job(job_id)
            if existing is not None and self._schedules.get(job_id) == spec.text:
                continue
            jitter = config.daemon.jitter
            if jitter is None:
                jitter = int(min(300, spec.interval(tz).total_seconds() / 10))
            if due is None:  # first digest: on schedule, not at start
                due = spec.next_after(now, tz).astimezone(UTC)
            start = max(now, due)
            trigger = spec.trigger(tz, jitter=jitter or None, start=start)
            kwargs: dict[str, Any] = {}
            if due <= now:
                kwargs["next_run_time"] = now  # overdue: once, now
                if func == self._crawl_job:
                    with self._caught_up:
                        self._catch_up.add(args[0])
            self.scheduler.add_job(func, trigger, args=args, id=job_id, name=job_id,
                                   executor=executor, replace_existing=True, **kwargs)
            self._schedules[job_id] = spec.text
            first = kwargs.get("next_run_time") or trigger.get_next_fire_time(None, now)
            log_event("job_scheduled", job=job_id, schedule=spec.text, next_run=_iso(first),
                      overdue=bool(kwargs) or None)
        if self.scheduler.get_job("outbox:retry") is None:
            self.scheduler.add_job(self._outbox_job, "interval", seconds=OUTBOX_RETRY_S,
                                   id="outbox:retry", name="outbox:retry")
        if self.scheduler.get_job("evidence:prune") is None:
            # captures `evidence.keep` no longer keeps: daily, first an hour after start
            self.scheduler.add_job(self._prune_job, "interval", hours=24,
                                   next_run_time=now + timedelta(hours=1),
                                   id="evidence:prune", name="evidence:prune")

    def _on_job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log_event("job_skipped", logging.WARNING, job=event.job_id,
                      reason="the previous run is still going (schedule shorter than a run?)")
        else:
            log_event("job_missed", logging.WARNING, job=event.job_id,
                      due=_iso(event.scheduled_run_time),
                      reason="later than daemon.misfire_grace; it runs at its next time")

    def _crawl_job(self, name: str) -> None:
        try:
            self._crawl(name)
        finally:
            with self._caught_up:
                self._catch_up.discard(name)
                self._caught_up.notify_all()

    def _follow_watch_file(self) -> None:
        """Mutes and watches added in `monitor web` apply from the next job: the config is
        read again when its watch file changed (a broken one is refused once, logged)."""
        config = self.config
        stamp = _mtime(config.watch_file if config else None)
        if stamp != self._watch_stamp:
            self._watch_stamp = stamp
            self.reload()

    def _crawl(self, name: str) -> None:
        self._follow_watch_file()
        config = self.config
        if config is None or self._cancel.is_set():
            return
        try:
            source: Source = config.source(name)
        except MonitorError:
            return  # removed by a reload while queued
        timeout = config.timeout_of(source)
        log_event("job_start", job="crawl", source=name, timeout=timeout)
        try:
            report = crawl(config, self.state_dir, [name], timeout=timeout,
                           grace=config.daemon.stop_grace, wait=timeout, cancel=self._cancel)
        except Exception as exc:  # noqa: BLE001  (never let one job take the scheduler down)
            log_event("job_end", logging.ERROR, job="crawl", source=name, status="error",
                      error=f"{type(exc).__name__}: {exc}")
            return
        for entry, who in report.busy:
            log_event("job_end", logging.WARNING, job="crawl", source=entry, status="busy",
                      error=f"still being crawled by {who}")
        for result in report.results:
            level = logging.INFO if result.status in ("ok", "partial") else logging.WARNING
            log_event("job_end", level, job="crawl", source=result.source,
                      status=result.status, fetched=result.fetched, items=result.items,
                      new_items=result.new_items, new_matches=result.new_matches,
                      errors=result.errors, seconds=round(result.seconds, 1),
                      error=result.error)
        if report.results and not self._cancel.is_set():
            self._alerts(config, report.results)

    def _alerts(self, config: Config, results: Any) -> None:
        """The crawl's immediate alerts: queued and delivered now, failures on its runs."""
        try:
            with open_store(self.state_dir) as store:
                alerts = after_crawl(store, config, results)
        except Exception as exc:  # noqa: BLE001  (the outbox tick tries again)
            self._alerts_waiting = True
            log_event("alerts", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            return
        if alerts.queue.waiting:
            self._alerts_waiting = True
        for alert_id, recipient, subject, findings in alerts.queue.queued:
            log_event("alert_queued", alert_id=alert_id, recipient=recipient,
                      findings=findings, subject=subject)
        for recipient, findings, why in alerts.queue.waiting:
            log_event("alert_waits", recipient=recipient, findings=findings, reason=why)
        if alerts.delivery is not None:
            self._log_delivery(alerts.delivery)

    def _digest_job(self, email: str) -> None:
        self._follow_watch_file()
        config = self.config
        if config is None or self._cancel.is_set():
            return
        self._wait_for_catch_up(config)
        if self._cancel.is_set():
            return
        log_event("job_start", job="digest", recipient=email)
        try:
            with open_store(self.state_dir) as store:
                queued = queue_digests(store, config, self.state_dir, recipients=[email])
                report = deliver(store, config, force=False)
        except Exception as exc:  # noqa: BLE001  (a failed digest must not stop the daemon)
            log_event("job_end", logging.ERROR, job="digest", recipient=email,
                      status="error", error=f"{type(exc).__name__}: {exc}")
            return
        self._log_delivery(report)
        sent = {entry[0] for entry in report.sent}
        status = ("empty" if not queued else
                  "sent" if all(q.outbox_id in sent for q in queued) else "queued")
        log_event("job_end", job="digest", recipient=email, status=status,
                  findings=sum(q.findings for q in queued) if queued else 0,
                  still_queued=report.still_queued)

    def _wait_for_catch_up(self, config: Config) -> None:
        """Let the catch-up crawls of a start finish first, so that a missed digest has what
        they find; at most as long as they may take (their time limits, as many at once as
        `daemon.max_parallel_crawls` allows), then it goes anyway."""
        with self._caught_up:
            pending = set(self._catch_up)
            if not pending:
                return
            limits = [config.timeout_of(config.source(n)) for n in pending
                      if any(s.name == n for s in config.sources)] or [0.0]
            rounds = -(-len(limits) // max(1, config.daemon.max_parallel_crawls))
            deadline = time.monotonic() + rounds * max(limits) + config.daemon.stop_grace
            log_event("digest_waits", sources=",".join(sorted(pending)),
                      reason="catch-up crawls first")
            while (self._catch_up and not self._cancel.is_set()
                   and time.monotonic() < deadline):
                self._caught_up.wait(timeout=1.0)

    def _prune_job(self) -> None:
        config = self.config
        if config is None or self._cancel.is_set():
            return
        try:
            with open_store(self.state_dir) as store:
                pruned = prune(store, self.state_dir, config.evidence)
        except Exception as exc:  # noqa: BLE001  (tried again the next day)
            log_event("evidence_pruned", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            return
        log_event("evidence_pruned", rows=pruned.rows, files=pruned.files, bytes=pruned.bytes)

    def _outbox_job(self) -> None:
        config = self.config
        if config is None or self._cancel.is_set():
            return
        try:
            with open_store(self.state_dir) as store:
                if self._alerts_waiting:
                    # alerts held by quiet hours or the hourly limit, or left by a crawl
                    # that died before queueing them (cleared first: a crawl ending during
                    # this pass sets it again)
                    self._alerts_waiting = False
                    held = queue_alerts(store, config)
                    if held.waiting:
                        self._alerts_waiting = True
                    for alert_id, recipient, subject, findings in held.queued:
                        log_event("alert_queued", alert_id=alert_id, recipient=recipient,
                                  findings=findings, subject=subject)
                if not store.queued_messages(due_only=True):
                    return
                report = deliver(store, config, force=False)
        except Exception as exc:  # noqa: BLE001  (retried on the next tick)
            self._alerts_waiting = True
            log_event("outbox_retry", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
            return
        self._log_delivery(report)

    @staticmethod
    def _log_delivery(report: Any) -> None:
        def kind(outbox_id: int) -> str:
            return "alert" if outbox_id in report.alerts else "digest"

        for outbox_id, recipient, subject, via in report.sent:
            log_event(f"{kind(outbox_id)}_sent", outbox_id=outbox_id, recipient=recipient,
                      via=via, subject=subject)
        given_up = {entry[0] for entry in report.given_up}
        for outbox_id, recipient, error in report.failed:
            if outbox_id in given_up:
                log_event(f"{kind(outbox_id)}_failed", logging.ERROR, outbox_id=outbox_id,
                          recipient=recipient, error=error, retry="never (kept as failed)")
            else:
                log_event(f"{kind(outbox_id)}_not_sent", logging.WARNING,
                          outbox_id=outbox_id, recipient=recipient, error=error,
                          retry="later, with back-off")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _due(spec: ScheduleSpec, last: datetime | None, now: datetime, tz: Any) -> datetime:
    """When a job is next due given its last run: never run means now."""
    if last is None:
        return now
    return spec.next_after(last, tz).astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None

