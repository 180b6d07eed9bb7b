from rest_framework.routers import SimpleRouter

from mlmeta.api.views.stacks import ComponentViewSet, FlavorViewSet, StackViewSet

router = SimpleRouter(trailing_slash=False)
router.register("stacks", StackViewSet, basename="stack")
router.register("components", ComponentViewSet, basename="component")
router.register("flavors", FlavorViewSet, basename="flavor")

urlpatterns = router.urls
