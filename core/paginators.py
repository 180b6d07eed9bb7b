from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows, so a change list over 100k runs never pays for a full COUNT(*).

    Beyond the cap the last page number stops growing; filters or search narrow the list.
    """

    cap = 10_000

    @cached_property
    def count(self):
        return self.object_list.order_by().values("pk")[: self.cap].count()
