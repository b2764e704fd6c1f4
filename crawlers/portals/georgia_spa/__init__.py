"""Georgia's e-procurement portal (`portal: georgia_spa`): `spider.GeorgiaSpa` walks its
search and each tender's fragments in the portal's session, `parse` reads the fragments."""
