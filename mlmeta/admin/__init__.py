"""Django admin of the metadata store, one module per aggregate (imported here to register)."""

from mlmeta.admin import artifacts, automation, metadata, pipelines, registry, runs, stacks

__all__ = ["artifacts", "automation", "metadata", "pipelines", "registry", "runs", "stacks"]
