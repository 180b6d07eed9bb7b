"""ZenML's offset pagination: `{"index", "max_size", "total_pages", "total", "items"}`.

Totals at scale: an exact `count(*)` grows with the list (about 100 ms for a tenant's 1,000,000
runs on PostgreSQL, 230 ms with a status filter; bench/RESULTS.md "Totals at scale"), so the total
is exact only up to `EXACT_COUNT_LIMIT` rows (a count over a LIMITed subquery) and above it
PostgreSQL's row estimate. SQLite has no estimate: above the limit it reports the limit + 1 (at least
that many, as the dashboard's capped count does).
An estimated page stays valid for the client, which walks pages until
`index == total_pages`: the page is fetched with one extra row, so a page with a next page always
reports `total_pages > index`, and the page that ends the list reports the exact total and
`total_pages == index`. A page that ends the list needs no count at all.
"""

import math

from django.db import connections

from core.api.exceptions import ZenError
from core.api.validation import invalid
from core.rawsql import count, fetch
from core.rawsql import estimate as planner_estimate  # PostgreSQL's EXPLAIN, nothing executed

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 20
# Up to this many rows the total is an exact count; above it, PostgreSQL's estimate (SQLite's
# floor). At 100,000 runs on PostgreSQL, counting 1,001 of them costs 0.4 ms (1.6 ms filtered by a
# metadata value), 10,001 of them 3 ms (30 ms); on SQLite a metadata value's 1,001 matches cost
# 1.5 ms, 10,001 of them 15 ms by any plan. bench/RESULTS.md "Totals: exact up to 1,000".
EXACT_COUNT_LIMIT = 1_000


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


def can_estimate(queryset) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def _total(queryset) -> tuple[int, bool]:
    """(total, exact): exact up to the limit, above it the planner's estimate on PostgreSQL, at
    least the limit + 1 in any case."""
    capped = count(queryset, EXACT_COUNT_LIMIT + 1)
    if capped <= EXACT_COUNT_LIMIT:
        return capped, True
    estimated = planner_estimate(queryset) if can_estimate(queryset) else 0
    return max(estimated, EXACT_COUNT_LIMIT + 1), False


def _past_the_end(page: int, size: int, total: int) -> ZenError:
    total_pages = max(1, math.ceil(total / size))
    return ZenError(
        f"Invalid page {page}. The requested page size is {size} and there are a total of {total} items "
        f"for this query. The maximum page value therefore is {total_pages}."
    )


def paginate(queryset, params, counted=None) -> tuple[list, dict]:
    """Return (rows of the page, page fields without `items`); a page past the end is a 400.

    The page is fetched first, with one extra row: a page that ends the list knows its exact total
    without a count (most lists the client asks for, lookups by name or the steps of a run, fit
    in one page). `counted` returns the same rows as `queryset` without what the page needs (the
    render's joins and annotations; a sort by a metadata value keeps only the rows up to the
    page's end and one more), cheaper to count and complete; it is called only to count."""
    page, size = page_params(params)
    offset = (page - 1) * size
    rows = fetch(queryset[offset : offset + size + 1])
    more, rows = len(rows) > size, rows[:size]
    if not more and (rows or page == 1):  # this page ends the list
        total = offset + len(rows)
    elif not rows:  # past the end
        total = count(counted() if counted else queryset)
        if total:
            raise _past_the_end(page, size, total)
    else:
        total, exact = _total(counted() if counted else queryset)
        if not exact:  # the estimate must promise at least one more page
            total = max(total, offset + size + 1)
    total_pages = max(1, math.ceil(total / size))
    return rows, {"index": page, "max_size": size, "total_pages": total_pages, "total": total}
