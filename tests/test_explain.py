"""monitor.explain: why a stored item or tender matched each watch (what `monitor explain`
prints, tested through the CLI in test_cli.py); here, what it raises."""

from __future__ import annotations

import pytest

from monitor.errors import RecordNotFoundError
from monitor.explain import explain_item, explain_tenders


def test_explain_unknown_item_and_tender_name_the_state_and_the_id(write_config, store):
    config = write_config({"sources": [{"name": "a", "kind": "feed",
                                        "url": "https://a.example/rss"}],
                           "watches": [{"name": "Nuctech"}]})
    with pytest.raises(RecordNotFoundError, match=r"no item with id '42' \(for a tender"):
        explain_item(store, config, "42")
    with pytest.raises(RecordNotFoundError, match="no item with id 'NAT1'"):
        explain_item(store, config, "NAT1")
    with pytest.raises(RecordNotFoundError, match="no tender numbered 'NAT1'"):
        explain_tenders(store, config, "NAT1")
