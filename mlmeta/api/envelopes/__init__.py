"""Envelopes of the metadata store's entities, one module per aggregate."""
