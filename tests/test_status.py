"""monitor.status: every source's health, worst first, and the outbox (what `monitor status`
prints; its table is tested through the CLI in test_cli.py)."""

from __future__ import annotations

from monitor.models import RunResult
from monitor.status import status


def test_status_orders_sources_worst_first_and_reads_the_outbox(write_config, store):
    config = write_config({
        "sources": [{"name": name, "kind": "feed", "url": f"https://{name}.example/rss"}
                    for name in ("fine", "broken", "new")],
        "watches": [{"name": "Nuctech"}],
    })
    for name, result in [("fine", "ok"), ("broken", "error")]:
        run_id = store.start_run(name)
        store.finish_run(run_id, RunResult(source=name, status=result, items=1,  # type: ignore[arg-type]
                                           warnings=["a warning"] if name == "fine" else []))
    outbox_id = store.queue_digest(
        recipient="desk@example.org", subject="s", message_id="<1@monitor.local>",
        message=b"", match_ids=(), until="2024-05-01T00:00:00+00:00", eml_path=None,
        html_path=None, findings=0)
    store.mark_attempt_failed(outbox_id, "550 no such mailbox", permanent=True)

    report = status(store, config)

    assert [(h.source, h.health) for h in report.sources] == [
        ("broken", "error"), ("new", "never_run"), ("fine", "ok")]
    assert report.sources[2].warnings == ("a warning",)
    assert report.outbox.queued == 0
    assert [(f["id"], f["last_error"]) for f in report.outbox.failed] == [
        (outbox_id, "550 no such mailbox")]
    assert report.to_dict()["outbox"]["failed"][0]["recipient"] == "desk@example.org"
