"""Any OCDS publisher (`portal: ocds`): `spider.Ocds` pages through its packages (or
MTender's list), `parse` compiles releases and reads them as records."""
