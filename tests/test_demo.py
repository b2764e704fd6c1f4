"""`monitor demo`: the embedded default works with no network and no configuration, and
finds exactly what src/monitor/demo/EXPECTED.md says."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from monitor.mail import read_eml

# (article file, watch) pairs that must be found; every other pair must not
EXPECTED = {
    ("sarpi-kazbegi-scanners.html", "Nuctech"),
    ("batumi-smart-city-cameras.html", "Hikvision"),
    ("anaklia-preferred-bidder.html", "Anaklia and the Belt and Road"),
    ("rikoti-bypass-tunnel-tender.html", "China Railway"),
    ("mobile-operator-5g-vendors.html", "Huawei"),
    ("mobile-operator-5g-vendors.html", "ZTE"),
    ("sarpi-scanners-ka.html", "Nuctech"),
    ("mvd-cameras-ru.html", "Hikvision"),
    # only as "Хуавея", the genitive: found through Russian case endings
    ("mvd-cameras-ru.html", "Huawei"),
    ("kz-5g-memorandum.html", "Huawei"),
    ("kz-5g-memorandum.html", "Anaklia and the Belt and Road"),
    ("huawei-georgia-memorandum-zh.html", "Huawei"),
    ("huawei-georgia-memorandum-zh.html", "Anaklia and the Belt and Road"),
    ("kyrgyz-railway-contractor-ru.html", "China Railway"),
    ("kyrgyz-railway-contractor-ru.html", "ZTE"),
    ("kyrgyz-railway-contractor-ru.html", "Anaklia and the Belt and Road"),
}


def test_demo_finds_what_the_sample_sites_say_and_delivers_one_email(tmp_path: Path):
    result = CliRunner().invoke(cli, ["--state", str(tmp_path / "state"), "demo", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)

    statuses = {r["source"]: r["status"] for r in report["results"]}
    assert statuses == {"demo_feed": "ok", "demo_news": "ok", "demo_tenders": "ok"}
    assert sum(r["new_items"] for r in report["results"]) == 13 + 3  # articles + tenders

    found = {(f["url"].rsplit("/", 1)[1], f["watch"]) for f in report["findings"]}
    assert found == EXPECTED
    texts = {f["found"] for f in report["findings"]}
    # Georgian, Russian from a windows-1251 page, Kazakh, Chinese; longest alias wins
    assert {"ნუქტექი", "Хиквижн", "Хуавэй", "华为", "China Railway Tunnel Group"} <= texts
    assert "China Railway" not in texts
    # tenders: Nuctech won by registry id (its distributor "ენ-ტი-ეს კავკასია"), Hikvision's
    # distributor bid and lost, the paper tender matches nothing
    tenders = {(t["native_id"], t["watch"], t["field"], t["found"]) for t in report["tenders"]}
    assert tenders == {
        ("ocds-demo01-NAT260001001", "Nuctech", "winner", "GE-NAPR:400000101"),
        ("ocds-demo01-NAT260001002", "Hikvision", "bidder", "Hikvision"),
    }

    assert len(report["received_subjects"]) == 1
    assert report["received_subjects"][0].startswith("monitor")
    [eml] = report["eml_paths"]
    [html] = report["html_paths"]
    message = read_eml(Path(eml))
    assert message["To"].addresses[0].addr_spec == "investigator@example.org"
    text = message.get_body(("plain",)).get_content()
    assert "ნუქტექი" in text
    assert "Nuctech won" in text and "> awarded to შპს ენ-ტი-ეს კავკასია (GE-NAPR:400000101)" in text
    assert "Hikvision bid and lost (awarded to შპს სეიფ სითი (GE-NAPR:400000404))" in text
    assert "<mark" in Path(html).read_text("utf-8")
    assert (tmp_path / "state" / "demo" / "monitor.db").exists()


def test_demo_twice_starts_fresh(tmp_path: Path):
    runner = CliRunner()
    args = ["--state", str(tmp_path / "state"), "demo", "--json"]
    first = json.loads(runner.invoke(cli, args).output)
    second = json.loads(runner.invoke(cli, args).output)
    assert len(second["findings"]) == len(first["findings"]) > 0
    assert len(second["received_subjects"]) == 1


def test_demo_findings_can_be_exported_as_evidence_that_matches_the_digest(tmp_path: Path):
    """The issue's proof: demo, then `monitor evidence ITEM_ID` of a finding writes a WARC that
    `warcio check` accepts, whose response payload hashes to what the digest printed; and
    `--verify` passes, then fails once a capture's bytes are altered."""
    import hashlib
    import re
    import subprocess
    import sys

    import zstandard
    from warcio.archiveiterator import ArchiveIterator

    from monitor.evidence import CaptureStore
    from monitor.store import open_store

    state = tmp_path / "state"
    report = json.loads(CliRunner().invoke(cli, ["--state", str(state), "demo", "--json"]).output)
    demo = state / "demo"
    text = read_eml(Path(report["eml_paths"][0])).get_body(("plain",)).get_content()
    printed = set(re.findall(r"SHA-256 ([0-9a-f]{16})…", text))
    with open_store(demo) as store:
        item_id = store.captured_findings("2000-01-01")[0]
        [capture] = store.captures(item_id)
    assert capture.sha256[:16] in printed

    out = tmp_path / "finding.warc.gz"
    args = ["--config", str(demo / "sources.yaml"), "--state", str(demo)]
    exported = CliRunner().invoke(cli, [*args, "evidence", str(item_id), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(out)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with out.open("rb") as fh:
        payloads = [r.content_stream().read() for r in ArchiveIterator(fh)
                    if r.rec_type == "response"]
    assert [hashlib.sha256(p).hexdigest()[:16] for p in payloads] == [capture.sha256[:16]]

    # a tender: every API response its versions were built from
    tender_out = tmp_path / "tender.warc.gz"
    tender = CliRunner().invoke(cli, [*args, "evidence", "--tender", "ocds-demo01-NAT260001001",
                                      "--out", str(tender_out)])
    assert tender.exit_code == 0, tender.output
    assert "Tender " in tender.output and "Nuctech in winner" in tender.output
    manifest = json.loads((tmp_path / "tender.warc.gz.json").read_text("utf-8"))
    assert [f["kind"] for f in manifest["findings"]] == ["tender"]
    assert subprocess.run([str(Path(sys.executable).parent / "warcio"), "check",
                           str(tender_out)], capture_output=True).returncode == 0

    assert CliRunner().invoke(cli, [*args, "evidence", "--verify"]).exit_code == 0
    path = CaptureStore(demo).path(capture.sha256)
    path.write_bytes(zstandard.ZstdCompressor().compress(b"<html>rewritten</html>"))
    assert CliRunner().invoke(cli, [*args, "evidence", "--verify"]).exit_code == 1
