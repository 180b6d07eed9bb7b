from core.api.envelope import Envelope, id_or_none
from core.api.timestamps import ts


class UserEnvelope(Envelope):
    name_attr = "username"

    def body(self, user) -> dict:
        return {
            "created": ts(user.date_joined),
            "updated": ts(user.updated),
            "active": user.is_active,
            "activation_token": None,
            "full_name": user.full_name,
            "email_opted_in": user.email_opted_in,
            "is_service_account": user.is_service_account,
            "is_admin": user.is_superuser,
            "default_project_id": None,
            "avatar_url": user.avatar_url,
        }

    def metadata(self, user) -> dict:
        return {
            "password_changed_at": ts(user.password_changed_at),
            "email": user.email or None,
            "external_user_id": id_or_none(user.external_user_id),
            "user_metadata": user.user_metadata,
            "oidc_claims": {},
        }


def nested_user(user) -> dict | None:
    """The non-hydrated user nested in other entities' `resources`."""
    return None if user is None else UserEnvelope().render(user)


class ProjectEnvelope(Envelope):
    def body(self, project) -> dict:
        return {**super().body(project), "display_name": project.display_name}

    def metadata(self, project) -> dict:
        return {"description": project.description, "project_metadata": project.project_metadata}

    def resources(self, project) -> dict:
        return {}
