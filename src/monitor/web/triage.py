"""Triage that teaches: mark a finding relevant, not relevant or for follow-up, with a note;
"not relevant" offers to mute what caused it (this alias in this source, or everywhere; a
phrase as an exclusion), written to the web's watch file and so applied to the next crawl's
matching. Every action goes into the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor import watchfile
from monitor.errors import ConfigError, StoreError
from monitor.store import TRIAGE_STATES
from monitor.web.app import checked_form, web_state
from monitor.web.render import page

KINDS = {"article": "articles", "tender": "tenders"}


@dataclass(frozen=True, slots=True)
class Cause:
    """What made a finding: a watch's alias or keyword, as found, in a source."""

    watch: str
    term: str
    found: str
    source: str


def _finding(request: Request) -> tuple[str, int, str]:
    kind, ref_id = request.path_params["kind"], request.path_params["ref_id"]
    if kind not in KINDS:
        raise HTTPException(404, f"no finding kind {kind!r}")
    return kind, ref_id, f"/{KINDS[kind]}/{ref_id}"


async def mark(request: Request) -> Response:
    kind, ref_id, back = _finding(request)
    form = await checked_form(request)
    state = str(form.get("state", ""))
    if state not in (*TRIAGE_STATES, "new"):
        raise HTTPException(400, f"state: one of {', '.join(TRIAGE_STATES)}, new; "
                                 f"not {state!r}")
    user = request.state.user
    try:
        web_state(request).store.set_triage(kind, ref_id, None if state == "new" else state,
                                            user=user.name, note=str(form.get("note", ""))[:4000])
    except StoreError as exc:
        raise HTTPException(404, str(exc)) from None
    if state == "not_relevant":
        return RedirectResponse(f"/triage/{kind}/{ref_id}/mute", 303)
    return RedirectResponse(back, 303)


def _causes(request: Request, kind: str, ref_id: int) -> list[Cause]:
    store = web_state(request).store
    if kind == "article":
        item = store.item(ref_id)
        if item is None:
            raise HTTPException(404, f"no article with id {ref_id}")
        pairs = [(m.watch, m.term, m.found) for m in store.item_matches(ref_id)]
        source = item.source
    else:
        row = store.tender(ref_id)
        if row is None:
            raise HTTPException(404, f"no tender with id {ref_id}")
        pairs = [(m.watch, m.term, m.found) for m in store.tender_matches(ref_id)
                 if m.term_kind != "id"]
        source = row.source
    return [Cause(w, t, f, source) for w, t, f in dict.fromkeys(pairs)]


async def mute(request: Request) -> Response:
    kind, ref_id, back = _finding(request)
    web = web_state(request)
    causes = _causes(request, kind, ref_id)
    path = web.config.watch_file
    if request.method == "GET":
        return page(request, "mute.html.j2", {"kind": kind, "ref_id": ref_id, "back": back,
                                              "causes": causes, "watch_file": path})
    form = await checked_form(request)
    if path is None:
        raise HTTPException(409, "web.watch_file is null in the config: mutes cannot be kept")
    watch, term = str(form.get("watch", "")), str(form.get("term", ""))
    cause = next((c for c in causes if c.watch == watch and c.term == term), None)
    if cause is None:
        raise HTTPException(400, f"watch {watch!r} did not match {term!r} in this finding")
    user, note = request.state.user.name, str(form.get("note", ""))[:500]
    action = str(form.get("action", ""))
    try:
        if action in ("mute_source", "mute_everywhere"):
            entry = {"watch": watch, "alias": term,
                     **({"source": cause.source} if action == "mute_source" else {}),
                     "by": user, **({"note": note} if note else {})}
            written = watchfile.add(path, "mutes", entry)
        elif action == "exclude":
            text = " ".join(str(form.get("text", "")).split())
            if not text:
                raise HTTPException(400, "exclude: give the phrase to exclude")
            written = watchfile.add(path, "excludes", {"watch": watch, "text": text, "by": user})
        else:
            raise HTTPException(400, f"action: mute_source, mute_everywhere or exclude, not "
                                     f"{action!r}")
    except ConfigError as exc:
        raise HTTPException(500, str(exc)) from None
    web.store.audit(user, action, f"{kind}:{ref_id}", {k: v for k, v in written.items()
                                                        if k not in ("by",)})
    return RedirectResponse(back, 303)


async def watch_file(request: Request) -> Response:
    """What the web added to the watch list: watches, mutes, exclusions; each removable."""
    web = web_state(request)
    path = web.config.watch_file
    sections = watchfile.read(path) if path else {k: [] for k in watchfile.SECTIONS}
    return page(request, "watchfile.html.j2", {"path": path, "sections": sections},
                data={"path": str(path) if path else None, **sections})


async def remove_entry(request: Request) -> Response:
    form = await checked_form(request)
    web = web_state(request)
    path = web.config.watch_file
    section = str(form.get("section", ""))
    if path is None or section not in watchfile.SECTIONS:
        raise HTTPException(400, f"section: one of {', '.join(watchfile.SECTIONS)}")
    try:
        entry = watchfile.remove(path, section, int(str(form.get("index", "-1"))))
    except (ConfigError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    web.store.audit(request.state.user.name, f"removed_{section[:-1]}",
                    str(entry.get("watch") or entry.get("name")), entry)
    return RedirectResponse("/watchfile", 303)


async def audit(request: Request) -> Response:
    rows = web_state(request).store.audit_log(limit=500)
    return page(request, "audit.html.j2", {"rows": rows}, data={"audit": rows})
