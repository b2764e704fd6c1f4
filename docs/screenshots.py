"""Take the README's screenshots of `monitor web` over the demo's findings.

    .venv/bin/python docs/screenshots.py          # writes docs/web-*.png

Runs `monitor demo` into a temp state, serves `monitor web` on a free loopback port and
photographs the main pages with Debian's chromium through Playwright."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from monitor.config import load_config
    from monitor.web import create_app

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (Debian: apt-get install chromium)")
    work = Path(tempfile.mkdtemp(prefix="monitor-shots-"))
    subprocess.run([sys.executable, "-m", "monitor", "--state", str(work), "demo"], check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)  # noqa: S603
    state = work / "demo"
    config = load_config(state / "sources.yaml")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(config, state), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    shots = {
        "web-inbox.png": "/findings",
        "web-article.png": "/articles/{article}",
        "web-tender.png": "/tenders/{tender}",
        "web-search.png": "/search?q=ნუქტექ*+OR+华为",
        "web-sources.png": "/sources",
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            with urllib.request.urlopen(url + "/findings.json") as answer:
                findings = json.load(answer)["findings"]
            ids = {"article": next(f["id"] for f in findings if f["kind"] == "article"),
                   "tender": next(f["id"] for f in findings if f["kind"] == "tender")}
            for name, path in shots.items():
                page.goto(url + path.format(**ids))
                page.screenshot(path=str(ROOT / "docs" / name))
                print(f"docs/{name}")
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(url + "/findings")
            page.screenshot(path=str(ROOT / "docs" / "web-phone.png"))
            print("docs/web-phone.png")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
