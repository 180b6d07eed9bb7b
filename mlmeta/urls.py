from django.urls import path

from mlmeta import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
