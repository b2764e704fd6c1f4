"""One finding: an article (its text with every match highlighted, versions with a readable
diff, copies elsewhere, evidence, triage) or a tender (parties with registry ids, value,
documents, a timeline of versions and events); an organisation's tenders by role."""

from __future__ import annotations

import difflib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from monitor.errors import EvidenceError, RecordNotFoundError
from monitor.evidence import CaptureStore, export_warc
from monitor.explain import explain_item, explain_tender_id, furniture_json, on_page_json
from monitor.models import TenderRecord
from monitor.web.app import web_state
from monitor.web.render import page


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a text: plain, or a match (`watch`, `term`) to highlight."""

    text: str
    watch: str | None = None
    term: str | None = None


def segments(text: str, spans: list[tuple[int, int, str, str]]) -> list[Segment]:
    """The text cut at the matches' spans (start, end, watch, term); overlaps keep the first."""
    out: list[Segment] = []
    at = 0
    for start, end, watch, term in sorted(spans):
        if start < at or not 0 <= start < end <= len(text):
            continue
        if start > at:
            out.append(Segment(text[at:start]))
        out.append(Segment(text[start:end], watch, term))
        at = end
    if at < len(text):
        out.append(Segment(text[at:]))
    return out


_WORDS = re.compile(r"\S+|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) with op '' (same), '-' (removed) or '+' (added), word by word."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"no {what} stored")


async def article(request: Request) -> Response:
    web = web_state(request)
    store, config = web.store, web.config
    item_id = request.path_params["item_id"]
    item = store.item(item_id)
    if item is None:
        raise _not_found(f"article with id {item_id}")
    explained = explain_item(store, config, str(item_id))
    spans: dict[str, list[tuple[int, int, str, str]]] = {"title": [], "body": []}
    for e in explained.explanations:
        for m in e.matches:
            spans.setdefault(m.field, []).append((m.start, m.end, m.watch, m.term))
    versions = store.item_versions(item_id)
    diffs = [(new.version, new.seen_at, word_diff(f"{old.title}\n\n{old.text}",
                                                  f"{new.title}\n\n{new.text}"))
             for old, new in zip(versions, versions[1:], strict=False)]
    matches = store.item_matches(item_id)
    target = f"article:{item_id}"
    context = {
        "item": item, "item_id": item_id,
        "title": segments(item.title or "", spans.get("title", [])),
        "body": segments(item.text or "", spans.get("body", [])),
        "explained": explained, "matches": matches, "versions": versions,
        "diffs": diffs[::-1], "copies": store.copies(item_id),
        "captures": store.captures(item_id), "triage": store.triage_of("article", item_id),
        "history": store.audit_log(target, limit=50), "kind": "article", "ref_id": item_id,
        "mutes": _mutes_for(config, {m.watch for m in matches}),
        "flags": explained.flags,
    }
    data = {"id": item_id, "source": item.source, "url": item.url, "title": item.title,
            "text": item.text, "language": item.language, "published_at": item.published_at,
            "matches": matches, "rejected": [
                {"watch": e.watch, "rejected": e.rejected} for e in explained.explanations
                if e.rejected],
            "outside_text": explained.outside_text,
            "furniture": furniture_json(explained.furniture),
            "on_page": on_page_json(explained.on_page), "versions": versions,
            "copies": context["copies"], "captures": context["captures"],
            "triage": context["triage"], "history": context["history"]}
    return page(request, "article.html.j2", context, data=data)


def _mutes_for(config: Any, watches: set[str]) -> dict[str, list[Any]]:
    return {w.name: list(w.mute) for w in config.watches if w.name in watches and w.mute}


async def tender(request: Request) -> Response:
    web = web_state(request)
    store, config = web.store, web.config
    tender_id = request.path_params["tender_id"]
    row = store.tender(tender_id)
    if row is None:
        raise _not_found(f"tender with id {tender_id}")
    record = TenderRecord.from_dict(row.record)
    versions = store.tender_versions(tender_id)
    events = store.events_of(tender_id)
    explained = explain_tender_id(store, config, tender_id)
    matches = store.tender_matches(tender_id)
    timeline = []
    for version in versions:
        timeline.append({"version": version.version, "seen_at": version.seen_at,
                         "status": version.record.get("status"),
                         "events": [e for e in events if e.version == version.version]})
    target = f"tender:{tender_id}"
    context = {
        "row": row, "record": record, "tender_id": tender_id, "timeline": timeline[::-1],
        "matches": matches, "explained": explained,
        "captures": store.tender_captures(tender_id),
        "triage": store.triage_of("tender", tender_id),
        "history": store.audit_log(target, limit=50), "kind": "tender", "ref_id": tender_id,
        "mutes": _mutes_for(config, {m.watch for m in matches}),
        "flags": explained.flags,
    }
    data = {"id": tender_id, "source": row.source, "number": row.native_id, "url": row.url,
            "record": row.record, "matches": matches, "timeline": timeline,
            "captures": context["captures"], "triage": context["triage"],
            "history": context["history"], "flags": explained.flags}
    return page(request, "tender.html.j2", context, data=data)


async def organisation(request: Request) -> Response:
    web = web_state(request)
    registry_id = request.path_params["registry_id"]
    tenders = web.store.tenders_of(registry_id)
    names = sorted({o.get("name") for t, _ in tenders for key in ("buyer", "bidders", "winners")
                    for o in _orgs(t.record.get(key))
                    if o.get("id") and registry_id.endswith(str(o.get("id")))} - {None})
    context = {"registry_id": registry_id, "tenders": tenders, "names": names}
    data = {"registry_id": registry_id, "names": names,
            "tenders": [{"id": t.id, "source": t.source, "number": t.native_id,
                         "title": t.title, "status": t.status, "roles": roles,
                         "value": t.value, "currency": t.currency, "page": f"/tenders/{t.id}"}
                        for t, roles in tenders]}
    return page(request, "organisation.html.j2", context, data=data)


def _orgs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [o for o in value or () if isinstance(o, dict)]


async def capture(request: Request) -> Response:
    """The raw capture's bytes, as the source sent them (checked against its hash)."""
    web = web_state(request)
    item_id, sha256 = request.path_params["item_id"], request.path_params["sha256"]
    known = [c for c in web.store.captures(item_id) if c.sha256 == sha256]
    if not known:
        raise _not_found(f"capture {sha256} for article {item_id}")
    try:
        body = CaptureStore(web.state_dir).read(sha256)
    except EvidenceError as exc:
        raise HTTPException(500, str(exc)) from None
    return Response(body, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{sha256}.bin"'})


def _warc(request: Request, item_ids: list[int], numbers: list[str], name: str) -> Response:
    web = web_state(request)
    folder = Path(tempfile.mkdtemp(prefix="monitor-web-warc-"))
    out = folder / name
    try:
        export_warc(web.store, web.state_dir, item_ids, out, tender_numbers=numbers)
    except RecordNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except EvidenceError as exc:
        raise HTTPException(500, str(exc)) from None

    def clean() -> None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)

    return FileResponse(out, media_type="application/warc", filename=name,
                        background=BackgroundTask(clean))


async def warc(request: Request) -> Response:
    item_id = request.path_params["item_id"]
    return _warc(request, [item_id], [], f"evidence-{item_id}.warc.gz")


async def tender_warc(request: Request) -> Response:
    row = web_state(request).store.tender(request.path_params["tender_id"])
    if row is None:
        raise _not_found("tender")
    return _warc(request, [], [row.native_id], f"evidence-{row.native_id}.warc.gz")
