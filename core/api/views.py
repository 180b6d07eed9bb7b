"""The base of every `/api/v1` resource: tenant restriction, filters, sorting, pagination,
hydration, request validation against the ZenML schemas, and 200 on create."""

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework import viewsets
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError, RequestValidationError
from core.api.filters import ZenFilterSet, _to_bool
from core.api.pagination import paginate
from core.api.validation import invalid, validate_body
from core.rawsql import fetch
from core.signals import access_denied, changed_values, field_values, resource_changed


def hydrate_param(request, default: bool) -> bool:
    raw = request.query_params.get("hydrate")
    if raw in (None, ""):
        return default
    try:
        return _to_bool(raw)
    except ValueError:
        raise invalid("hydrate", "Input should be a valid boolean", raw, "query") from None


class ZenViewSet(viewsets.GenericViewSet):
    """CRUD on one resource. Subclasses declare:

    - `model`, `envelope_class`, `filterset_class`;
    - `create_schema` / `update_schema`: names of the request schemas in ZenML's OpenAPI;
    - `label`: the entity's name in messages ("pipeline run");
    - `perform_create(data)` / `perform_update(obj, data)`: turn a validated body into rows.
    """

    model = None
    envelope_class = None
    filterset_class = ZenFilterSet
    create_schema: str | None = None
    update_schema: str | None = None
    label = "entity"
    resource_type = None  # the RBAC type, when the model's own is not it (service accounts)
    lookup_url_kwarg = "pk"
    unique_message = "{label} with name `{name}` already exists."

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name, value in kwargs.items():  # ids and names from the path reach the database as is
            if "\x00" in str(value):
                raise invalid(name, "Input should not contain NUL characters", value, "path")

    # --- queries -------------------------------------------------------------------------
    def action_name(self) -> str:
        return {
            "list": "read",
            "retrieve": "read",
            "create": "create",
            "update": "update",
            "partial_update": "update",
            "destroy": "delete",
        }.get(self.action, "read")

    def get_queryset(self):
        return self.model.objects.restrict(self.request.user, self.action_name()).filter(tenant=self.request.tenant)

    def readable(self):
        """What the caller may read (`get_queryset()` as for a GET): an object found here but not
        in `get_queryset()` (restricted by the action) is forbidden (403) rather than missing (404)."""
        action, self.action = self.action, "retrieve"
        try:
            return self.get_queryset()
        finally:
            self.action = action

    def get_object(self, queryset=None):
        raw = self.kwargs[self.lookup_url_kwarg]
        try:
            pk = uuid.UUID(str(raw))
        except ValueError:
            raise invalid(f"{self.label.replace(' ', '_')}_id", "Input should be a valid UUID", raw, "path") from None
        queryset = queryset if queryset is not None else self.get_queryset()
        obj = next(iter(fetch(queryset.filter(pk=pk)[:1])), None)
        if obj is None:
            self.forbid_if_readable(pk)
            raise EntityNotFound(f"Unable to get {self.label} with ID '{pk}': No {self.label} with this ID found")
        return obj

    def forbid_if_readable(self, pk) -> None:
        action = self.action_name()
        if action != "read" and self.readable().filter(pk=pk).exists():
            self.deny(action, resource_id=pk)

    def authorize(self, action: str, obj) -> None:
        """403 (and an audit event) unless the caller may `action` on `obj`."""
        if not self.model.objects.allows(self.request.user, action, obj, self.resource_type):
            self.deny(action, resource_id=obj.pk)

    def deny(self, action: str, resource_id="") -> None:
        access_denied.send(sender=self.model, request=self.request, action=action, resource_id=resource_id)
        raise IllegalOperationError(f"Insufficient permissions to {action} this {self.label}.")

    def envelope(self, hydrate: bool):
        return self.envelope_class(request=self.request, hydrate=hydrate)

    def render(self, obj, hydrate: bool = True) -> dict:
        obj = self.envelope_class.prefetch_one(self.model.objects.filter(pk=obj.pk), hydrate).get()
        return self.envelope(hydrate).render(obj)

    # --- actions -------------------------------------------------------------------------
    def list(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, False)
        filterset = self.filterset_class(request.query_params, queryset=self.get_queryset(), request=request)
        queryset = filterset.sort(filterset.qs, request.query_params.get("sort_by"))
        rows, page = paginate(
            self.envelope_class.prefetch(queryset, hydrate), request.query_params, counted=lambda: filterset.counted
        )
        page["items"] = self.envelope(hydrate).render_many(rows)
        return Response(page)

    def retrieve(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, True)
        obj = self.get_object(self.envelope_class.prefetch_one(self.get_queryset(), hydrate))
        return Response(self.envelope(hydrate).render(obj))

    def create(self, request, *args, **kwargs):
        data = self.validated(request.data, self.create_schema)
        obj = self.save_or_conflict(lambda: self.created(self.perform_create(data)), data)
        self.changed("create", obj)
        return Response(self.render(obj))

    def update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = self.validated(request.data, self.update_schema)
        before = field_values(obj)
        obj = self.save_or_conflict(lambda: self.perform_update(obj, data), data) or obj
        self.changed("update", obj, changed_values(before, field_values(obj)))
        return Response(self.render(obj))

    def destroy(self, request, *args, **kwargs):
        obj = self.get_object()
        pk = obj.pk
        self.perform_destroy(obj)
        self.changed("delete", obj, resource_id=pk)
        return Response(None)

    def changed(self, action: str, obj, changes: dict | None = None, resource_id=None) -> None:
        """Tell the audit trail that `obj` was created, updated or deleted by this request
        (creates carry the new object's field values, updates the fields that changed)."""
        if changes is None and action == "create":
            changes = field_values(obj)
        resource_changed.send(
            sender=type(obj),
            request=self.request,
            action=action,
            obj=obj,
            resource_id=resource_id or obj.pk,
            resource_type=self.resource_type,
            changes=changes or {},
        )

    # --- hooks ---------------------------------------------------------------------------
    def validated(self, data, schema_name):
        if schema_name:
            validate_body(data, schema_name, f"{self.request.method} {self.request.path}")
        return data

    def save_or_conflict(self, save, data):
        try:
            with transaction.atomic():
                return save()
        except IntegrityError:
            raise EntityExistsError(
                self.unique_message.format(label=self.label.capitalize(), name=data.get("name", ""))
            ) from None

    @staticmethod
    def clean(obj, exclude=("tenant", "user", "project")):
        """Run the model's field validators; their messages become a 422."""
        try:
            obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            problems = [
                str({"type": "value_error", "loc": ("body", field), "msg": " ".join(messages)})
                for field, messages in exc.message_dict.items()
            ]
            raise RequestValidationError(f"{len(problems)} validation error(s):\n  " + "\n  ".join(problems)) from None
        return obj

    def created(self, obj):
        """Creating is allowed by the caller's role where the object landed (its tenant and
        project); checked inside the transaction, so a refused create writes nothing."""
        if self.request.method == "POST":
            self.authorize("create", obj)
        return obj

    def perform_create(self, data):
        raise NotImplementedError

    def perform_update(self, obj, data):
        raise NotImplementedError

    def perform_destroy(self, obj):
        obj.delete()
