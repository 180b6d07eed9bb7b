"""FilterSets of the metadata store's API lists, one module per aggregate."""
