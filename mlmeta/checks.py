"""System checks: every runner in settings.MLMETA_RUNNERS names an importable Runner class, and
the default and per-tenant choices name configured runners."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


@checks.register()
def check_runners(app_configs=None, **kwargs) -> list:
    from mlmeta.runners import Runner

    errors = []
    runners = dict(getattr(settings, "MLMETA_RUNNERS", {}))
    for name, entry in runners.items():
        path = (entry or {}).get("class") if isinstance(entry, dict) else None
        try:
            cls = import_string(path or "")
        except ImportError as exc:
            errors.append(checks.Error(f"Runner '{name}': cannot import {path!r} ({exc}).", id="mlmeta.E101"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Runner)):
            errors.append(checks.Error(f"Runner '{name}': {path!r} is not a Runner class.", id="mlmeta.E102"))
    chosen = {"MLMETA_DEFAULT_RUNNER": settings.MLMETA_DEFAULT_RUNNER}
    chosen.update({f"MLMETA_TENANT_RUNNERS[{slug}]": name for slug, name in settings.MLMETA_TENANT_RUNNERS.items()})
    for where, name in chosen.items():
        if name not in runners:
            errors.append(checks.Error(f"{where} names runner '{name}', not in MLMETA_RUNNERS.", id="mlmeta.E103"))
    return errors
