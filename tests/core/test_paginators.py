from core.paginators import CappedCountPaginator
from tenants.models import User


def test_the_dashboard_count_stops_at_the_cap(db, monkeypatch):
    for number in range(5):
        User.objects.create_user(f"user-{number}")
    users = User.objects.filter(username__startswith="user-").order_by("username")
    assert CappedCountPaginator(users, 2).count == 5
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    paginator = CappedCountPaginator(users, 2)
    assert (paginator.count, paginator.num_pages) == (3, 2)
    narrowed = CappedCountPaginator(users[:1], 2, counted=users.exclude(username="user-0"))
    assert narrowed.count == 3
