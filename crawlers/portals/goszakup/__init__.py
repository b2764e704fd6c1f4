"""Kazakhstan's goszakup.gov.kz (`portal: goszakup`): `spider.Goszakup` walks the OWS v3
journal and each announcement's chain of requests, `parse` reads them as records."""
