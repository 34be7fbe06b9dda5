from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/users/", views.accounts, name="accounts"),
    path("accounts/users/new/", views.add_account, name="add_account"),
    path("accounts/users/<int:user_id>/active/", views.set_active, name="set_active"),
    path("accounts/users/<int:user_id>/staff/", views.set_staff, name="set_staff"),
    path("accounts/users/<int:user_id>/reset/", views.reset_password, name="reset_password"),
    path("accounts/settings/", views.site_settings, name="site_settings"),
    path("accounts/welcome/<uidb64>/<token>/", views.Welcome.as_view(), name="welcome"),
    path("signup/", views.sign_up, name="sign_up"),
    path("account/", views.account, name="account"),
    path("account/name/", views.change_name, name="change_name"),
    path("account/password/", views.change_password, name="change_password"),
]
