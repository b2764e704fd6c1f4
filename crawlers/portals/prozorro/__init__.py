"""Ukraine's Prozorro (`portal: prozorro`): `spider.Prozorro` reads the OpenProcurement API,
`parse` maps its tenders to records and its feed offsets to positions."""
