"""The public API is what `monitor.__all__` lists, and importing it never pulls in Scrapy."""

from __future__ import annotations

import subprocess
import sys

import monitor


def test_all_names_are_exported_once():
    for name in monitor.__all__:
        assert hasattr(monitor, name), name
    assert len(set(monitor.__all__)) == len(monitor.__all__)


def test_public_members_are_in_all():
    public = {n for n in dir(monitor) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(monitor, n)).__name__ == "module"}
    assert public - modules - {"annotations"} == set(monitor.__all__)


def test_importing_monitor_does_not_import_scrapy():
    code = "import sys, monitor, monitor.cli; print('scrapy' in sys.modules, 'twisted' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
