"""`run_metadata=key:op:value` on the lists (ZenML's filter, with numbers compared as numbers) and
MLMeta's `sort_by=desc:run_metadata:key` on /api/v1/runs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mlmeta.models import ArtifactVersion, Model, ModelVersion, Pipeline, PipelineRun, RunMetadata, StepRun
from tenants import access
from tenants.models import Project, User

START = timezone.now() - timedelta(days=1)


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


def log(resource, resource_type="pipeline_run", **values):
    RunMetadata.log(
        RunMetadata(
            project_id=resource.project_id,
            tenant_id=resource.tenant_id,
            resource_type=resource_type,
            resource_id=resource.pk,
            key=key,
            value=value,
            type=type(value).__name__,
        )
        for key, value in values.items()
    )


@pytest.fixture
def runs(project):
    """Runs a..g, created in that order, with the metadata named in each."""
    pipeline = Pipeline.objects.create(project=project, name="p")
    made = {}
    for i, name in enumerate("abcdefg"):
        made[name] = PipelineRun.objects.create(
            project=project, pipeline=pipeline, name=name, created=START + timedelta(minutes=i)
        )
    log(made["a"], accuracy=0.95, branch="main", flag=True)
    log(made["b"], accuracy=0.85, branch="dev", flag=False)
    log(made["c"], accuracy=0.9, branch="feature/tuning", note=None)
    log(made["d"], accuracy=0.9, branch="main")
    log(made["e"], accuracy="0.99", epochs=10)  # a string that looks like a number is a string
    log(made["f"], accuracy=True, note="x")  # a bool is no number
    return made


def names(api, *entries, path="/api/v1/runs", **params):
    response = api.get(path, {"run_metadata": list(entries), "size": 100, **params})
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("accuracy:gt:0.9", ["a"]),
        ("accuracy:gte:0.9", ["a", "c", "d"]),
        ("accuracy:lt:0.9", ["b"]),
        ("accuracy:lte:0.85", ["b"]),
        ("accuracy:0.9", ["c", "d"]),
        ("accuracy:equals:0.90", ["c", "d"]),
        ("accuracy:0.99", ["e"]),  # the string "0.99"
        ("epochs:10.0", ["e"]),
        ("accuracy:notequals:0.9", ["a", "b", "e", "f"]),  # g has no accuracy: no match
        ("accuracy:oneof:[0.95, 0.85]", ["a", "b"]),
        ("accuracy:in:[0.85]", ["b"]),
        ("accuracy:notoneof:[0.9, 0.95]", ["b", "e", "f"]),
        ("accuracy:true", ["f"]),
        ("missing:gt:0", []),
    ],
)
def test_filter_runs_by_a_number(api, runs, entry, expected):
    assert names(api, entry) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("branch:main", ["a", "d"]),
        ("branch:equals:main", ["a", "d"]),
        ("branch:notequals:main", ["b", "c"]),
        ("branch:contains:EV", ["b"]),
        ("branch:notcontains:ai", ["b", "c"]),
        ("branch:startswith:feature", ["c"]),
        ("branch:endswith:ing", ["c"]),
        ('branch:oneof:["dev", "main"]', ["a", "b", "d"]),
        ("branch:lt:e", ["b"]),  # text order when the operand is no number
        ("branch:feature/tuning", ["c"]),
        ("flag:false", ["b"]),
        ("note:isnull:", ["c"]),
        ("note:isnotnull:", ["f"]),
    ],
)
def test_filter_runs_by_a_string_bool_or_null(api, runs, entry, expected):
    assert names(api, entry) == expected


def test_repeated_entries_are_and_ed(api, runs):
    assert names(api, "accuracy:gte:0.9", "branch:main") == ["a", "d"]
    assert names(api, "accuracy:gte:0.9", "branch:main", "flag:true") == ["a"]
    assert names(api, "accuracy:gt:0.9", "branch:dev", logical_operator="or") == ["a", "b"]


def test_relogged_value_replaces_the_old_one(api, runs):
    log(runs["b"], accuracy=0.97)
    assert names(api, "accuracy:gt:0.96") == ["b"]
    assert names(api, "accuracy:0.85") == []
    assert RunMetadata.objects.filter(resource_id=runs["b"].pk, key="accuracy").count() == 1


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("accuracy", "Invalid run_metadata entry format: 'accuracy'"),
        (":0.9", "the key before the first ':' is empty"),
        ("accuracy:greater:0.9", "unknown operator 'greater'"),
        ("accuracy:oneof:0.9", "json formatted list"),
        ("note:isnull:x", "the operator isnull takes no value"),
    ],
)
def test_bad_metadata_entry_is_a_422_naming_it(api, runs, entry, named):
    response = api.get("/api/v1/runs", {"run_metadata": entry})
    assert response.status_code == 422
    assert "run_metadata" in response.json()[1] and named in response.json()[1]


def test_a_colon_in_a_value_after_a_non_word_is_literal(api, runs):
    log(runs["g"], started="12:30", url="https://x")
    assert names(api, "started:12:30") == ["g"]
    assert names(api, "url:equals:https://x") == ["g"]


def walk(api, sort_by, size=2):
    order, page = [], 1
    while True:
        body = api.get("/api/v1/runs", {"sort_by": sort_by, "size": size, "page": page}).json()
        order += [item["name"] for item in body["items"]]
        if body["index"] >= body["total_pages"]:
            return order, body["total"]
        page += 1


def test_sort_runs_by_metadata_number_missing_last_stable_pages(api, runs):
    # e ("0.99"), f (true) and g have no number: last in both directions, by created.
    assert walk(api, "desc:run_metadata:accuracy") == (["a", "c", "d", "b", "e", "f", "g"], 7)
    assert walk(api, "asc:run_metadata:accuracy") == (["b", "c", "d", "a", "e", "f", "g"], 7)
    assert walk(api, "run_metadata:accuracy", size=3) == (["b", "c", "d", "a", "e", "f", "g"], 7)
    assert walk(api, "desc:run_metadata:nothing", size=3) == (list("abcdefg"), 7)


def test_sort_by_metadata_combines_with_filters(api, runs):
    response = api.get("/api/v1/runs", {"sort_by": "desc:run_metadata:accuracy", "run_metadata": "branch:main"})
    assert [item["name"] for item in response.json()["items"]] == ["a", "d"]


@pytest.mark.parametrize("sort_by", ["desc:run_metadata:", "sideways:run_metadata:accuracy", "desc:metadata:x"])
def test_bad_metadata_sort_is_a_422(api, runs, sort_by):
    response = api.get("/api/v1/runs", {"sort_by": sort_by})
    assert response.status_code == 422 and "sort_by" in response.json()[1]


def test_other_tenants_metadata_never_matches_or_sorts(api, runs, other):
    """A row of another tenant naming our run's id (which no endpoint writes) is still ignored,
    and the other tenant's runs never show up."""
    theirs = Project.objects.get(tenant=other, name="default")
    foreign = PipelineRun.objects.create(
        project=theirs, pipeline=Pipeline.objects.create(project=theirs, name="p"), name="foreign"
    )
    log(foreign, accuracy=0.999, branch="main")
    RunMetadata.objects.create(
        project=theirs, resource_type="pipeline_run", resource_id=runs["g"].pk, key="score", value=1.0, type="float"
    )
    assert names(api, "accuracy:gt:0.98") == []
    assert names(api, "score:1") == []
    assert walk(api, "desc:run_metadata:accuracy", size=10)[0][0] == "a"
    assert walk(api, "desc:run_metadata:score", size=10)[0] == list("abcdefg")


@pytest.mark.parametrize(
    ("entries", "operator", "total", "more"),
    [
        (["accuracy:gte:0.9"], "and", 3, {}),
        (["accuracy:notequals:0.9"], "and", 4, {}),
        (['branch:oneof:["dev", "main"]'], "and", 3, {}),
        (["accuracy:gte:0.9", "branch:main"], "and", 2, {}),
        (["accuracy:gte:0.9"], "and", 2, {"name": 'oneof:["a", "b", "c", "g"]'}),
        (["accuracy:gt:0.9", "branch:dev"], "or", 2, {}),
        (["note:isnotnull:", "epochs:10"], "or", 2, {}),
        (["accuracy:gt:0.9"], "or", 3, {"name": 'oneof:["b", "g"]'}),
    ],
)
def test_a_total_past_one_page_counts_the_runs_the_pages_show(api, runs, other, entries, operator, total, more):
    """Joined by AND, the count walks the first condition's metadata rows among the runs the rest
    select (matches_among); by OR, each condition is the ids of its matches (has_metadata_to_count).
    The same runs either way, never one named by another tenant's row."""
    theirs = Project.objects.get(tenant=other, name="default")
    RunMetadata.objects.create(
        project=theirs, resource_type="pipeline_run", resource_id=runs["g"].pk, key="accuracy", value=0.95, type="float"
    )
    params = {"run_metadata": entries, "logical_operator": operator, **more}
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/runs", {**params, "size": 1}).json()
    counts = [
        query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"]
    ]  # before the next request clears them
    assert (page["total"], page["total_pages"]) == (total, total)
    assert len(counts) == 1
    counted_from = counts[0].split(" FROM ", 2)[2].split()[0]
    assert counted_from == ('"mlmeta_runmetadata"' if operator == "and" else '"mlmeta_pipelinerun"')
    assert operator == "and" or "EXISTS" not in counts[0]
    assert len(names(api, *entries, logical_operator=operator, **more)) == total


def test_filter_steps_artifact_versions_and_model_versions(api, project, runs):
    step = StepRun.objects.create(project=project, pipeline_run=runs["a"], name="evaluate")
    log(step, "step_run", loss=0.2)
    assert names(api, "loss:lt:0.3", path="/api/v1/steps") == ["evaluate"]
    assert names(api, "loss:gt:0.3", path="/api/v1/steps") == []
    assert names(api, "loss:lt:0.3", path=f"/api/v1/runs/{runs['a'].pk}/steps") == ["evaluate"]
    for run, loss in (("b", 0.1), ("c", 0.25), ("d", 0.9)):  # two more matches, one more step
        log(
            StepRun.objects.create(project=project, pipeline_run=runs[run], name=f"evaluate-{run}"),
            "step_run",
            loss=loss,
        )
    page = api.get("/api/v1/steps", {"run_metadata": "loss:lt:0.3", "size": 1}).json()
    assert (page["total"], page["total_pages"], len(page["items"])) == (3, 3, 1)  # counted, not ended
    page = api.get("/api/v1/steps", {"run_metadata": "loss:lt:0.3", "name": "contains:-", "size": 1}).json()
    assert page["total"] == 2

    model = Model.objects.create(project=project, name="m")
    version = ModelVersion.objects.create(project=project, model=model, name="v1", number=1)
    log(version, "model_version", stage_note="ok")
    assert names(api, "stage_note:ok", path="/api/v1/model_versions") == ["v1"]
    assert names(api, "stage_note:no", path=f"/api/v1/models/{model.pk}/model_versions") == []
    assert names(api, "stage_note:ok", path=f"/api/v1/models/{model.pk}/model_versions") == ["v1"]

    assert api.get("/api/v1/artifact_versions", {"run_metadata": "size:gt:1"}).json()["total"] == 0
    assert api.get("/api/v1/artifact_versions", {"run_metadata": "size"}).status_code == 422
    assert ArtifactVersion.objects.count() == 0


def test_database_keeps_number_and_text_of_each_value(runs):
    log(runs["g"], i=3, f=-0.5, s="x", b=True, n=None, d={"a": 1}, lst=[1])
    stored = {m.key: (m.number, m.text) for m in RunMetadata.objects.filter(resource_id=runs["g"].pk)}
    assert stored == {
        "i": (3.0, None),
        "f": (-0.5, None),
        "s": (None, "x"),
        "b": (None, None),
        "n": (None, None),
        "d": (None, None),
        "lst": (None, None),
    }


@pytest.mark.postgres
def test_a_number_no_float_holds_is_stored_without_a_number(runs):
    log(runs["g"], huge=10**400, tiny=0.0)
    stored = dict(RunMetadata.objects.filter(resource_id=runs["g"].pk).values_list("key", "number"))
    assert stored == {"huge": None, "tiny": 0.0}


def test_logging_a_key_again_over_the_api_replaces_it(api, project, runs):
    body = {
        "project": str(project.pk),
        "resources": [{"id": str(runs["b"].pk), "type": "pipeline_run"}] * 2,
        "stack_component_id": None,
        "values": {"accuracy": 0.99},
        "types": {"accuracy": "float"},
        "publisher_step_id": None,
    }
    assert api.post("/api/v1/run-metadata", body, format="json").status_code == 200
    assert names(api, "accuracy:gt:0.98") == ["b"]
    assert RunMetadata.objects.filter(resource_id=runs["b"].pk, key="accuracy").count() == 1
