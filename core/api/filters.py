"""ZenML's list-filter grammar on top of django-filter.

A filter value is `[operator:]value`, e.g. `name=contains:train`, `created=gte:2026-01-01 00:00:00`,
`id=oneof:["…","…"]`; a parameter may repeat; `logical_operator=or` combines every condition
with OR instead of AND. Each FilterSet only declares which parameters exist and what kind of
value they take; parsing happens here once for all resources.
"""

import copy
import json
import uuid
from collections.abc import Callable

import django_filters
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q
from django.http import QueryDict

from core.api.timestamps import parse_ts
from core.api.validation import invalid

OPERATORS = (
    "equals",
    "notequals",
    "contains",
    "notcontains",
    "startswith",
    "endswith",
    "oneof",
    "notoneof",
    "isempty",
    "isnotempty",
    "gt",
    "gte",
    "lt",
    "lte",
)
TEXT_OPERATORS = {"contains", "notcontains", "startswith", "endswith"}
ORDER_OPERATORS = {"gt", "gte", "lt", "lte"}
NEGATED = {"notequals": "equals", "notcontains": "contains", "notoneof": "oneof"}
LOOKUPS = {
    "equals": "exact",
    "contains": "icontains",
    "startswith": "istartswith",
    "endswith": "iendswith",
    "oneof": "in",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
}
CONTROL_PARAMS = {"hydrate", "sort_by", "logical_operator", "page", "size", "include_full_metadata"}


def split_operator(raw: str) -> tuple[str, str]:
    operator, sep, rest = raw.partition(":")
    if sep and operator in OPERATORS:
        return operator, rest
    return "equals", raw


ONEOF_ERROR = "When you are using the 'oneof:' filtering make sure that the provided value is a json formatted list."


def _parse_list(raw: str) -> list[str]:
    """The values of `oneof:`, which (as on the real server) must be a JSON list."""
    try:
        values = json.loads(raw)
    except ValueError:
        raise ValueError(ONEOF_ERROR) from None
    if not isinstance(values, list):
        raise ValueError(ONEOF_ERROR)
    return [str(v) for v in values]


def _to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError("Input should be a valid boolean")


def _to_int(raw: str) -> int:
    value = int(raw)
    if not -(2**63) <= value < 2**63:  # what a database integer column can hold
        raise ValueError("Input should be a 64-bit integer")
    return value


CONVERTERS: dict[str, Callable] = {
    "str": str,
    "uuid": lambda raw: uuid.UUID(raw),
    "datetime": parse_ts,
    "int": _to_int,
    "float": float,
    "bool": _to_bool,
    "ref": str,
}


class ZenFilter(django_filters.Filter):
    """One query parameter: `kind` says how values convert; `field_name` is the ORM path.

    `q` may be a callable (operator, converted value) -> Q for parameters that are not a
    plain column (e.g. `stack_id` through a relation, `cache_expired` from a timestamp).
    """

    # True where the filter counts its matches another way (`matches_among`, `counting_condition`).
    counts_differently = False

    def __init__(self, field_name=None, kind="str", q=None, choices=None, name_field="name", **kwargs):
        super().__init__(field_name=field_name, **kwargs)
        self.kind = kind
        self.q = q
        self.choices = choices
        self.name_field = name_field

    def condition(self, raw: str) -> Q:
        if "\x00" in raw:
            raise invalid(self.field_name_for_errors, "Input should not contain NUL characters", raw, "query")
        operator, value = split_operator(raw)
        if self.kind == "bool" or self.choices:
            # Booleans and enums compare whole values.
            operator = operator if operator in ("equals", "notequals", "oneof", "notoneof") else "equals"
        try:
            return self._condition(operator, value)
        except (ValueError, TypeError, AttributeError) as exc:
            raise invalid(self.field_name_for_errors, str(exc) or "Invalid filter value", raw, "query") from None

    def counting_condition(self, raw: str) -> Q:
        """The same condition, in the form a count of every match reads fastest among conditions
        joined by OR."""
        return self.condition(raw)

    def matches_among(self, raw: str, rows):
        """With conditions joined by AND: one row for each of `rows` that meets this condition, in
        the queryset fastest to count (ZenFilterSet.counted); None where there is none faster."""
        return None

    @property
    def field_name_for_errors(self) -> str:
        return self.param_name or self.field_name

    def _convert(self, value: str, operator: str):
        if operator in TEXT_OPERATORS:
            return value  # text matching also works on ids: `id=startswith:6ba8`
        if self.choices and value not in self.choices:
            raise ValueError(f"Input should be one of {', '.join(self.choices)}")
        return CONVERTERS[self.kind](value)

    def _condition(self, operator: str, value: str) -> Q:
        if operator in ("isempty", "isnotempty"):
            if self.q is not None:  # a computed condition has no column to be empty
                raise ValueError(f"The operator {operator} does not apply to this field")
            empty = Q(**{f"{self.field_name}__isnull": True})
            if self.kind == "str":
                empty |= Q(**{self.field_name: ""})
            return empty if operator == "isempty" else ~empty
        negate = operator in NEGATED
        operator = NEGATED.get(operator, operator)
        if operator in ORDER_OPERATORS and self.kind in ("bool", "uuid"):
            raise ValueError(f"The operator {operator} does not apply to this field")
        if operator == "oneof":
            converted = [self._convert(v, operator) for v in _parse_list(value)]
        else:
            converted = self._convert(value, operator)
        if self.q is not None:
            condition = self.q(operator, converted)
        elif self.kind == "ref":
            condition = self._ref_condition(operator, converted)
        else:
            lookup, path = LOOKUPS[operator], self.field_name
            if self.kind == "uuid" and operator in TEXT_OPERATORS:
                lookup, path = lookup.removeprefix("i"), self._text_path()
            condition = Q(**{f"{path}__{lookup}": converted})
        return ~condition if negate else condition

    def _text_path(self) -> str:
        """Text lookups do not apply to a foreign key's `<name>_id`: they go through the related pk."""
        model = getattr(self, "model", None)
        *relations, last = self.field_name.split("__")
        try:
            for name in relations:
                model = model._meta.get_field(name).related_model
            field = model._meta.get_field(last)
        except (AttributeError, FieldDoesNotExist):
            return self.field_name
        if field.is_relation and last != field.name:
            return "__".join([*relations, field.name, "pk"])
        return self.field_name

    def _ref_condition(self, operator: str, value) -> Q:
        """A related object given by id or by name (`pipeline=<uuid>` or `pipeline=training`)."""
        values = value if isinstance(value, list) else [value]
        ids, names = [], []
        for item in values:
            try:
                ids.append(uuid.UUID(item))
            except ValueError:
                names.append(item)
        if operator in TEXT_OPERATORS or operator in ORDER_OPERATORS:
            return Q(**{f"{self.field_name}__{self.name_field}__{LOOKUPS[operator]}": value})
        condition = Q(pk__in=[])
        if ids:
            condition |= Q(**{f"{self.field_name}__pk__in": ids})
        if names:
            condition |= Q(**{f"{self.field_name}__{self.name_field}__in": names})
        return condition

    def filter(self, qs, value):
        # Conditions are combined by ZenFilterSet.filter_queryset (AND or OR), not one by one.
        return qs


class ZenFilterSet(django_filters.FilterSet):
    """Base of every API FilterSet: the common parameters plus the grammar above.

    `sort_fields` names what `sort_by` accepts (`[asc:|desc:]field`).
    """

    id = ZenFilter("id", kind="uuid")
    created = ZenFilter("created", kind="datetime")
    updated = ZenFilter("updated", kind="datetime")

    sort_fields = ("created", "updated", "id")

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        """As django-filter's, except that the declared filters are not deep-copied for every
        request (a list declares up to 40; copying them was a tenth of a runs page's CPU):
        `filters` is the class's, read only, and `conditions()` copies the few a request uses."""
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset if queryset is not None else self._meta.model._default_manager.all()
        self.request = request
        self.form_prefix = prefix
        self.filters = self.base_filters
        # While `counted` builds its queryset: the conditions in their counting form, or all but one.
        self.counting = False
        self.left_out = None

    def given(self):
        """(filter, raw value) of each condition of the request."""
        for name in self.data:
            declared = self.filters.get(name)
            if not isinstance(declared, ZenFilter):
                continue
            flt = copy.copy(declared)
            flt.param_name, flt.model, flt.parent = name, self.queryset.model, self
            for raw in self.data.getlist(name):
                if raw is not None:
                    yield flt, raw

    def conditions(self) -> list[Q]:
        return [
            flt.counting_condition(raw) if self.counting else flt.condition(raw)
            for flt, raw in self.given()
            if (flt.param_name, raw) != self.left_out
        ]

    def filter_queryset(self, queryset):
        conditions = self.conditions()
        if not conditions:
            return queryset
        combined = conditions[0]
        use_or = self.data.get("logical_operator", "and").lower() == "or"
        for condition in conditions[1:]:
            combined = combined | condition if use_or else combined & condition
        try:
            return queryset.filter(combined)
        except ValidationError as exc:  # a value the column cannot take (e.g. text for a UUID)
            raise invalid("filters", " ".join(exc.messages), dict(self.data.lists()), "query") from None

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            self._qs = self.filter_queryset(self.queryset.all())
        return self._qs

    @property
    def counted(self):
        """The rows of `qs` in the form cheapest to count, where a filter counts its matches another
        way (MetadataFilter). Joined by AND, the first such condition counts its matches among the
        rows the others select (`matches_among`); joined by OR, each says its condition in its
        counting form."""
        given = next(((flt, raw) for flt, raw in self.given() if flt.counts_differently), None)
        if given is None:
            return self.qs
        if self.data.get("logical_operator", "and").lower() == "or":
            self.counting = True
            try:
                return self.filter_queryset(self.queryset.all())
            finally:
                self.counting = False
        flt, raw = given
        self.left_out = (flt.param_name, raw)  # an identical repeat of it adds nothing to AND
        try:
            matches = flt.matches_among(raw, self.filter_queryset(self.queryset.all()))
        finally:
            self.left_out = None
        return self.qs if matches is None else matches

    def is_valid(self):
        return True

    def sort(self, queryset, sort_by: str | None):
        """Order by `[asc:|desc:]field` with the id as tie-breaker, so pages never overlap."""
        sort_by = sort_by or "created"
        direction, sep, field = sort_by.partition(":")
        if not sep:
            direction, field = "asc", sort_by
        if direction not in ("asc", "desc") or field not in self.sort_fields:
            allowed = ", ".join(self.sort_fields)
            raise invalid("sort_by", f"Invalid sort field or direction; sortable fields: {allowed}", sort_by, "query")
        path = self.sort_paths().get(field, field)
        prefix = "-" if direction == "desc" else ""
        return queryset.order_by(f"{prefix}{path}", f"{prefix}id")

    def sort_paths(self) -> dict[str, str]:
        return {}
