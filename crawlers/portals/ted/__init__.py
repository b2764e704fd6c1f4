"""The EU's Tenders Electronic Daily (`portal: ted`): `spider.Ted` runs the searches,
`query` builds them from the watch list, `parse` reads their notices as records."""
