from rest_framework.routers import SimpleRouter

from secrets_app.api.views import SecretViewSet

router = SimpleRouter(trailing_slash=False)
router.register("secrets", SecretViewSet, basename="secret")

urlpatterns = router.urls
