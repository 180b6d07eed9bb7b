from django.core.paginator import Paginator
from django.utils.functional import cached_property

from core.rawsql import count


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows, so a change list over 100k runs never pays for a full COUNT(*).

    Beyond the cap the last page number stops growing; filters or search narrow the list.
    `counted` is the same rows as `object_list` when that one is narrowed to what the page needs
    (a sort by a metadata value keeps only the rows up to the page's end).
    """

    cap = 10_000

    def __init__(self, object_list, per_page, *args, counted=None, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self.counted = object_list if counted is None else counted

    @cached_property
    def count(self):
        return count(self.counted.order_by(), self.cap)
