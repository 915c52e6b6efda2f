from rest_framework.routers import SimpleRouter

from accounts.views import AccountViewSet, AuthViewSet

router = SimpleRouter(trailing_slash=False)
router.register("", AuthViewSet, basename="auth")
router.register("", AccountViewSet, basename="account")

urlpatterns = router.urls
