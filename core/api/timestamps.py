"""ZenML's wire format for times: naive ISO-8601 in UTC, with microseconds, no offset."""

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

DATETIME_FILTER_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def parse_ts(value) -> datetime | None:
    """Parse a request timestamp; naive ones are UTC. Raises ValueError on garbage."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = parse_datetime(str(value).replace(" ", "T", 1))
        if parsed is None:
            for fmt in DATETIME_FILTER_FORMATS:
                try:
                    parsed = datetime.strptime(str(value), fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError(f"Invalid datetime {value!r}.")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
