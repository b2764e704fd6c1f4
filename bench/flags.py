"""Benchmark: what red flags cost when tenders are stored, and the portal's fences.

    .venv/bin/python bench/flags.py [--tenders 5000] [--buyers 50] [--repeat 2]

Generates Prozorro-shaped tenders through the real parser (tests/cases/flags.yaml's base,
varied: 1-5 bids with prices, dates and fates, lots, a buyer out of --buyers, direct awards
on some, contracts), normalised, then stores them all into a fresh store twice, side by
side in turn first: `record_tender` as a crawl without red flags calls it, and with the
crawl's `Flagger` (every rule, the buyer's other tenders read from the store, the portal's
fences read once). Prints the time per tender of both and their ratio, the time to take the
fences over all stored tenders, and the flags stored.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from crawlers.portals.prozorro.parse import tender_record  # noqa: E402
from monitor.config import Config  # noqa: E402
from monitor.flags.compute import Flagger  # noqa: E402
from monitor.models import TenderRecord  # noqa: E402
from monitor.store import open_store  # noqa: E402
from monitor.tender import normalise_tender, record_tender  # noqa: E402

BASE = yaml.safe_load((ROOT / "tests" / "cases" / "flags.yaml").read_text("utf-8"))[
    "bases"]["prozorro"]


def tenders(n: int, buyers: int, seed: int = 1) -> list[TenderRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        data: dict[str, Any] = copy.deepcopy(BASE)
        data["tenderID"] = f"UA-2026-{1 + i % 12:02d}-01-{i:06d}-a"
        day = 1 + i % 27
        month = 1 + i % 12
        data["tenderPeriod"] = {"startDate": f"2026-{month:02d}-{day:02d}T10:00:00+02:00",
                                "endDate": f"2026-{month:02d}-{day:02d}T10:00:00+02:00"
                                .replace(f"-{day:02d}T", f"-{min(28, day + rng.randint(3, 20)):02d}T")}
        data["procuringEntity"]["identifier"]["id"] = f"{43000000 + i % buyers}"
        data["items"][0]["classification"]["id"] = f"{rng.choice([30, 38, 45, 50])}21" \
                                                    f"{rng.randint(1000, 9999)}-1"
        bidders = rng.randint(1, 5)
        data["bids"] = [{
            "id": f"b{j}", "status": rng.choice(["active"] * 4 + ["invalid"]),
            "date": data["tenderPeriod"]["startDate"],
            "value": {"amount": rng.randint(300_000, 1_000_000), "currency": "UAH"},
            "tenderers": [{"name": f"Supplier {rng.randint(1, 400)}",
                           "identifier": {"scheme": "UA-EDR", "id": f"{30000000 + j}"},
                           "contactPoint": {"email": f"s{rng.randint(1, 300)}@example.ua"}}],
        } for j in range(bidders)]
        data["awards"][0]["bid_id"] = "b0"
        data["awards"][0]["suppliers"] = data["bids"][0]["tenderers"]
        data["awards"][0]["value"] = data["bids"][0]["value"]
        if i % 5 == 0:
            data.update(procurementMethod="limited", procurementMethodType="reporting")
            data.pop("bids")
        out.append(normalise_tender(tender_record(data, source="prozorro_ua", raw_hash=None)))
    return out


def store_all(records: list[TenderRecord], flagged: bool) -> tuple[float, float, int]:
    """(seconds storing, seconds taking the fences, flags stored)."""
    config = Config.model_validate({"sources": [{
        "name": "prozorro_ua", "kind": "portal", "portal": "prozorro",
        "url": "https://public-api.prozorro.gov.ua/api/2.5"}]})
    with tempfile.TemporaryDirectory() as tmp, open_store(tmp) as store:
        flagger = Flagger(store, config) if flagged else None
        if flagger is not None:
            flagger._fences["prozorro_ua"] = flagger.fences("other")  # fences: timed below
        start = time.perf_counter()
        for record in records:
            record_tender(store, record, flagger=flagger)
        seconds = time.perf_counter() - start
        fences = 0.0
        if flagger is not None:
            start = time.perf_counter()
            Flagger(store, config).fences("prozorro_ua")
            fences = time.perf_counter() - start
        count = store.db.conn.execute(
            "SELECT COUNT(*) FROM tender_flags WHERE state = 'flagged'").fetchone()[0]
    return seconds, fences, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenders", type=int, default=5000)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    records = tenders(args.tenders, args.buyers)
    plain: list[float] = []
    flagged: list[float] = []
    for n in range(args.repeat):
        for with_flags in ((False, True) if n % 2 == 0 else (True, False)):
            seconds, fences, count = store_all(records, with_flags)
            (flagged if with_flags else plain).append(seconds)
            label = "with flags" if with_flags else "no flags  "
            extra = f", fences over {args.tenders:,} tenders {fences:.2f} s, {count:,} " \
                    "flagged verdicts" if with_flags else ""
            print(f"{label} #{n + 1}: {seconds / args.tenders * 1000:.2f} ms a tender{extra}")
    ratio = min(flagged) / min(plain)
    print(f"best of {args.repeat}: {min(plain) / args.tenders * 1000:.2f} ms without, "
          f"{min(flagged) / args.tenders * 1000:.2f} ms with red flags a tender: {ratio:.2f}x")


if __name__ == "__main__":
    main()
