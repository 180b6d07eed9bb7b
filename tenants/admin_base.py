"""Base classes of every MLMeta admin.

Visibility and permissions come from tenants.rbac only: querysets go through `.restrict()`,
object permissions through `rbac.check()`, and every choice a form or filter offers is
restricted the same way. Change lists never pay for a full count or for facets.
"""

import json
import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.paginators import CappedCountPaginator
from tenants import audit, rbac

# Fields an admin form does not edit directly: the tenant (derived from the project or the
# parent row), the project (fixed once created) and the creator.
OWNER_FIELDS = ("tenant", "project", "user")


def has_field(model, name: str) -> bool:
    try:
        return model._meta.get_field(name).concrete
    except FieldDoesNotExist:
        return False


def admin_url(obj, view: str = "change") -> str | None:
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])
    except NoReverseMatch:
        return None


def link(obj, text=None):
    """An admin link to `obj` (or "-" for no object); pass `text` to avoid calling str(obj)."""
    if obj is None:
        return "-"
    url = admin_url(obj)
    label = obj if text is None else text
    return format_html('<a href="{}">{}</a>', url, label) if url else label


def changelist_link(model, text, **filters):
    """A link to `model`'s change list filtered by `filters` (e.g. all runs of a pipeline)."""
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def badge(value, css_prefix: str = "status"):
    if not value:
        return "-"
    return format_html('<span class="badge {}-{}">{}</span>', css_prefix, value, value)


def pretty_json(value):
    """JSON shown read-only and indented, for large configuration columns."""
    if value in (None, {}, []):
        return "-"
    return format_html('<pre class="json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


def related_link(name: str, description: str = ""):
    """A change-list column linking to the related object `name` (select it in list_select_related)."""

    @admin.display(description=description or name.replace("_", " "), ordering=name)
    def column(self, obj):
        return link(getattr(obj, name))

    column.__name__ = f"{name}_link"
    return column


def json_field(name: str, description: str = ""):
    """A read-only, pretty-printed display of the JSON column `name`."""

    @admin.display(description=description or name.replace("_", " "))
    def column(self, obj):
        return pretty_json(getattr(obj, name))

    column.__name__ = f"{name}_json"
    return column


def duration(start, end):
    if not start or not end:
        return "-"
    seconds = int((end - start).total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


class RestrictedModelForm(forms.ModelForm):
    """Validates what the admin hides from the form.

    The row's tenant is derived (from its project or parent row) before validation, so unique
    constraints that include `tenant`, `project` or `user` still become form errors rather than
    IntegrityErrors; and every reference must stay inside the row's tenant and project.
    """

    request = None  # set on the per-request form class by the admin's get_form()/get_formset()
    scope = (None, None)  # (tenant id, project id) of the row, known after clean()

    # Fields that may be left empty on add because the model's save() fills them in.
    filled_on_save = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.filled_on_save:
            if name in self.fields and self.instance._state.adding:
                self.fields[name].required = False
                self.fields[name].help_text = "Leave empty to take the next number."
        if self._sets_creator():
            self.instance.user = self.request.user

    def _sets_creator(self) -> bool:
        instance = self.instance
        if self.request is None or not instance._state.adding or "user" in self.fields:
            return False
        return has_field(self._meta.model, "user") and instance.user_id is None

    def clean(self):
        cleaned = super().clean()
        self.scope = tenant_id, project_id = self._scope(cleaned)
        if tenant_id is not None:
            if has_field(self._meta.model, "tenant") and "tenant" not in self.fields:
                self.instance.tenant_id = tenant_id
            self._check_references(cleaned, tenant_id, project_id)
        return cleaned

    def _scope(self, cleaned):
        """(tenant id, project id) of the row as it will be saved; (None, None) if unknown yet."""
        instance = self.instance
        parent_field = getattr(instance, "parent_field", "")
        if parent_field:
            parent = cleaned.get(parent_field) or self._current(parent_field)
            return (parent.tenant_id, getattr(parent, "project_id", None)) if parent else (None, None)
        if "project" in self.fields:
            project = cleaned.get("project")
            return (project.tenant_id, project.pk) if project else (None, None)
        if "tenant" in self.fields:
            tenant = cleaned.get("tenant")
            return (tenant.pk if tenant else None), None
        return getattr(instance, "tenant_id", None), getattr(instance, "project_id", None)

    def _current(self, name):
        field = self.instance._meta.get_field(name)
        return getattr(self.instance, name) if getattr(self.instance, field.attname) is not None else None

    def _check_references(self, cleaned, tenant_id, project_id):
        skip = {*OWNER_FIELDS, getattr(self.instance, "parent_field", "")}
        for name, value in list(cleaned.items()):
            field = self._model_field(name)
            if name in skip or value is None or field is None or not field.is_relation:
                continue
            for target in value if field.many_to_many else [value]:
                if getattr(target, "tenant_id", tenant_id) != tenant_id:
                    self.add_error(name, f"{target} belongs to another tenant.")
                    break
                target_project = getattr(target, "project_id", None)
                if project_id and target_project and target_project != project_id:
                    self.add_error(name, f"{target} belongs to another project.")
                    break

    def _model_field(self, name):
        try:
            return self._meta.model._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only field
            return None

    def _get_validation_exclusions(self):
        # Django skips constraints on fields missing from the form. References that are derived
        # or fixed (tenant, project, creator, parent) have their value by now, so validate the
        # constraints that include them too: a duplicate is a form error, not an IntegrityError.
        exclude = super()._get_validation_exclusions()
        for field in self.instance._meta.concrete_fields:
            derived = field.is_relation and field.name not in self.fields
            if derived and getattr(self.instance, field.attname) is not None:
                exclude.discard(field.name)
        exclude.update(name for name in self.filled_on_save if not self.cleaned_data.get(name))
        return exclude


class RestrictedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter that offers only the rows the user may see (at most `limit`)."""

    limit = 200

    def field_choices(self, field, request, model_admin):
        queryset = field.related_model._default_manager.all()
        if hasattr(queryset, "restrict"):
            queryset = queryset.restrict(request.user, "read")
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset[: self.limit]]


def related_filter(name: str):
    return (name, RestrictedRelatedFilter)


class CappedInlineFormSet(BaseInlineFormSet):
    """Shows at most `max_rows` existing rows, so a tag on 100k runs still renders quickly."""

    max_rows = 100

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            queryset = super().get_queryset()
            keep = list(queryset.values_list("pk", flat=True)[: self.max_rows])
            self._queryset = queryset.filter(pk__in=keep)
        return self._queryset


class RestrictedAdminMixin:
    """Tenant scoping and permissions shared by model admins and inlines."""

    form = RestrictedModelForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, "read")

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(db).all()
        return queryset.restrict(request.user, "read") if hasattr(queryset, "restrict") else queryset

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if has_field(self.model, "project") and "tenant" not in exclude:
            exclude.append("tenant")  # always the project's tenant
        return exclude

    # References that cannot change once the row exists (besides tenant and project).
    fixed_fields = ()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        owners = ["user"] if obj is None else ["tenant", "project", "user", *self.fixed_fields]
        for name in owners:
            if has_field(self.model, name) and name not in fields and self._is_form_field(name):
                fields.append(name)
        return fields

    def _is_form_field(self, name):
        field = self.model._meta.get_field(name)
        return field.editable and not field.auto_created

    def _allows(self, request, action, obj=None):
        if not self.admin_site.has_permission(request):
            return False
        return obj is None or rbac.check(request.user, action, obj)

    def has_view_permission(self, request, obj=None):
        return self._allows(request, "read", obj)

    def has_change_permission(self, request, obj=None):
        return self._allows(request, "update", obj)

    def has_delete_permission(self, request, obj=None):
        return self._allows(request, "delete", obj)

    # --- the audit trail, besides Django's own LogEntry rows -----------------------------------
    def construct_change_message(self, request, form, formsets, add=False):
        request.audit_changes = form_changes(form, add)
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        audit.record("create", request=request, obj=obj, changes=getattr(request, "audit_changes", None))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit.record("update", request=request, obj=obj, changes=getattr(request, "audit_changes", None))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit.record("delete", request=request, obj=obj)
        return super().log_deletions(request, queryset)


def form_changes(form, add: bool) -> dict:
    """The fields an admin form changed: {field: new} when adding, {field: [old, new]} when
    changing (the audit trail masks secret-looking names)."""

    def plain(value):
        return [str(item) for item in value] if isinstance(value, models.QuerySet) else value

    new = {name: plain(form.cleaned_data.get(name)) for name in form.changed_data}
    if add:
        return new
    return {name: [plain(form.initial.get(name)), value] for name, value in new.items()}


class RestrictedModelAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    """The base of every MLMeta model admin."""

    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    search_help_text = "Search by name, or paste an exact id."
    # Further UUID columns matched exactly when the search term is a UUID.
    uuid_search_fields = ("pk",)

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request):
        return self._allows(request, "create") and rbac.can_somewhere(
            request.user, "create", rbac.shape(self.model).type
        )

    def save_model(self, request, obj, form, change):
        """A new row must land where the user may create it (the form offers every tenant they
        can see); refused inside the admin's transaction, so nothing is written."""
        if not change and not rbac.check(request.user, "create", obj):
            message = f"You may not create a {self.model._meta.verbose_name} there."
            audit.record("permission_denied", request=request, obj=obj, detail=message)
            raise PermissionDenied(message)
        super().save_model(request, obj, form, change)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request  # a new class per call, so this is per request
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None and has_field(self.model, "tenant") and rbac.may_use_tenant(request.user, tenant):
            initial.setdefault("tenant", tenant.pk)
        return initial

    def get_search_results(self, request, queryset, search_term):
        """An exact id is looked up through the primary key index instead of a text scan."""
        try:
            value = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        query = Q()
        for name in self.uuid_search_fields:
            query |= Q(**{name: value})
        return queryset.filter(query), False


class RestrictedInlineMixin(RestrictedAdminMixin):
    formset = CappedInlineFormSet
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return self._allows(request, "create" if obj is None else "update", obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.request = request
        return formset


class RestrictedTabularInline(RestrictedInlineMixin, admin.TabularInline):
    pass


class RestrictedStackedInline(RestrictedInlineMixin, admin.StackedInline):
    pass
