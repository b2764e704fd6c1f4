"""Procurement-portal spiders (`kind: portal`), one package per `portal:` value: `spider.py`
the Scrapy spider (requests, callbacks, the saved position), `parse.py` pure functions from
a portal's responses to `TenderRecord`s (testable without Scrapy), `query.py` where building
the portal's query is a job of its own. `base.py` is the spiders' base, `common.py` what
several portals' parse modules share."""
