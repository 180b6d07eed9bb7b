"""ZenML's offset pagination: `{"index", "max_size", "total_pages", "total", "items"}`."""

import math

from core.api.exceptions import ZenError
from core.api.validation import invalid

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 20


def _positive_int(params, name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            name, "Input should be a valid integer, unable to parse string as an integer", raw, "query"
        ) from None
    if value < 1:
        raise invalid(name, "Input should be greater than or equal to 1", raw, "query")
    if maximum and value > maximum:
        raise invalid(name, f"Input should be less than or equal to {maximum}", raw, "query")
    return value


def page_params(params) -> tuple[int, int]:
    return _positive_int(params, "page", 1), _positive_int(params, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def paginate(queryset, params) -> tuple[list, dict]:
    """Return (rows of the page, page fields without `items`); a page past the end is a 400."""
    page, size = page_params(params)
    total = queryset.count()
    total_pages = max(1, math.ceil(total / size))
    if total and page > total_pages:
        raise ZenError(
            f"Invalid page {page}. The requested page size is {size} and there are a total of {total} items "
            f"for this query. The maximum page value therefore is {total_pages}."
        )
    rows = list(queryset[(page - 1) * size : page * size]) if total else []
    return rows, {"index": page, "max_size": size, "total_pages": total_pages, "total": total}
