"""The demo pipelines, steps and their outputs, and the ZenML-shaped JSON of their snapshots
(the shape of a recorded `POST /api/v1/pipeline_snapshots` body from the 0.98.0 client)."""

import hashlib
from dataclasses import dataclass, field

from mlmeta.choices import ArtifactType, VisualizationType

ZENML_VERSION = "0.98.0"
ENVIRONMENT = {
    "environment": "native",
    "os": "linux",
    "linux_distro": "debian",
    "linux_distro_like": "",
    "linux_distro_version": "12",
    "python_version": "3.11.7",
    "zenml_version": ZENML_VERSION,
}


def source(module: str, attribute: str, kind: str = "internal", **extra) -> dict:
    return {"module": module, "attribute": attribute, "type": kind, **extra}


PANDAS = source("pandas.core.frame", "DataFrame", "distribution_package", package_name="pandas", version="2.2.3")
SKLEARN_MODEL = source(
    "sklearn.ensemble._forest",
    "RandomForestClassifier",
    "distribution_package",
    package_name="scikit-learn",
    version="1.5.2",
)
PANDAS_MATERIALIZER = source("zenml.materializers.pandas_materializer", "PandasMaterializer")
SKLEARN_MATERIALIZER = source("zenml.integrations.sklearn.materializers.sklearn_materializer", "SklearnMaterializer")
BUILTIN_MATERIALIZER = source("zenml.materializers.built_in_materializer", "BuiltInMaterializer")
HTML_MATERIALIZER = source("zenml.materializers.structured_string_materializer", "StructuredStringMaterializer")


@dataclass(frozen=True)
class OutputDef:
    name: str
    type: str
    data_type: dict
    materializer: dict
    visualizations: tuple[str, ...] = ()
    size: tuple[int, int] = (10_000, 5_000_000)  # storage size range in bytes
    items: tuple[int, int] | None = None  # item_count range, for collections


@dataclass(frozen=True)
class StepDef:
    name: str
    code: str
    duration: tuple[int, int]  # seconds
    outputs: tuple[OutputDef, ...]
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # input -> (step, output)
    parameters: dict = field(default_factory=dict)
    cacheable: bool = False  # may be served from the cache (same input data that day)
    failure: str = "RuntimeError: step failed"

    @property
    def upstream(self) -> list[str]:
        return sorted({step for step, _ in self.inputs.values()})

    def code_hash(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()


@dataclass(frozen=True)
class PipelineDef:
    name: str
    description: str
    steps: tuple[StepDef, ...]
    weight: float  # share of the generated runs
    parameters: dict = field(default_factory=dict)
    model: str | None = None  # model whose versions the runs create
    uses_model: str | None = None  # model whose production version the runs load
    scheduled: bool = False

    def step(self, name: str) -> StepDef:
        return next(step for step in self.steps if step.name == name)

    def artifact_name(self, step: str, output: str) -> str:
        return f"{self.name}::{step}::{output}"


def _df(name, visualizations=(VisualizationType.CSV,), rows=(5_000, 2_000_000)):
    return OutputDef(name, ArtifactType.DATA, PANDAS, PANDAS_MATERIALIZER, visualizations, items=rows)


TRAINING = PipelineDef(
    name="training_pipeline",
    description="Trains the churn classifier on the latest customer snapshot and evaluates it.",
    weight=0.4,
    parameters={"test_size": 0.2, "n_estimators": 200, "max_depth": 12},
    model="churn_classifier",
    steps=(
        StepDef(
            "load_data",
            '@step(enable_cache=True)\ndef load_data(source: str = "s3://acme-data/churn/latest.parquet") '
            '-> Annotated[pd.DataFrame, "dataset"]:\n    return pd.read_parquet(source)\n',
            (20, 120),
            (_df("dataset"),),
            parameters={"source": "s3://acme-data/churn/latest.parquet"},
            cacheable=True,
            failure="FileNotFoundError: s3://acme-data/churn/latest.parquet",
        ),
        StepDef(
            "preprocess",
            "@step\ndef preprocess(dataset: pd.DataFrame, test_size: float = 0.2) -> Tuple[\n"
            '    Annotated[pd.DataFrame, "train_set"], Annotated[pd.DataFrame, "test_set"]\n]:\n'
            "    return train_test_split(dataset.dropna(), test_size=test_size)\n",
            (30, 240),
            (_df("train_set"), _df("test_set")),
            inputs={"dataset": ("load_data", "dataset")},
            parameters={"test_size": 0.2},
            failure="KeyError: 'churned'",
        ),
        StepDef(
            "train",
            "@step\ndef train(train_set: pd.DataFrame, n_estimators: int = 200, max_depth: int = 12)"
            ' -> Annotated[ClassifierMixin, "model"]:\n    model = RandomForestClassifier(n_estimators=n_estimators,'
            ' max_depth=max_depth)\n    return model.fit(train_set.drop(columns=["churned"]), train_set.churned)\n',
            (120, 1200),
            (
                OutputDef(
                    "model", ArtifactType.MODEL, SKLEARN_MODEL, SKLEARN_MATERIALIZER, size=(1_000_000, 80_000_000)
                ),
            ),
            inputs={"train_set": ("preprocess", "train_set")},
            parameters={"n_estimators": 200, "max_depth": 12},
            failure="MemoryError: Unable to allocate 3.2 GiB for an array",
        ),
        StepDef(
            "evaluate",
            "@step\ndef evaluate(model: ClassifierMixin, test_set: pd.DataFrame) -> Tuple[\n"
            '    Annotated[Dict[str, float], "metrics"], Annotated[HTMLString, "report"]\n]:\n'
            "    metrics = score(model, test_set)\n    log_metadata(metadata=metrics, infer_model=True)\n"
            "    return metrics, render_report(metrics)\n",
            (10, 90),
            (
                OutputDef(
                    "metrics",
                    ArtifactType.DATA,
                    source("builtins", "dict", "builtin"),
                    BUILTIN_MATERIALIZER,
                    (VisualizationType.JSON,),
                    size=(100, 400),
                    items=(4, 4),
                ),
                OutputDef(
                    "report",
                    ArtifactType.DATA_ANALYSIS,
                    source("zenml.types", "HTMLString"),
                    HTML_MATERIALIZER,
                    (VisualizationType.HTML,),
                    size=(2_000, 40_000),
                ),
            ),
            inputs={"model": ("train", "model"), "test_set": ("preprocess", "test_set")},
            failure="ValueError: Input contains NaN, infinity or a value too large for dtype('float32').",
        ),
    ),
)

ETL = PipelineDef(
    name="etl_pipeline",
    description="Nightly extract of product events into the feature store.",
    weight=0.35,
    parameters={"window_days": 1},
    scheduled=True,
    steps=(
        StepDef(
            "extract",
            '@step\ndef extract(window_days: int = 1) -> Annotated[pd.DataFrame, "raw_events"]:\n'
            "    return warehouse.query(EVENTS_SQL, window_days=window_days)\n",
            (30, 300),
            (_df("raw_events", rows=(50_000, 5_000_000)),),
            parameters={"window_days": 1},
            failure="OperationalError: could not connect to server: Connection timed out",
        ),
        StepDef(
            "transform",
            '@step\ndef transform(raw_events: pd.DataFrame) -> Annotated[pd.DataFrame, "features"]:\n'
            '    return raw_events.groupby("customer_id").agg(FEATURES)\n',
            (60, 600),
            (_df("features", (VisualizationType.CSV, VisualizationType.MARKDOWN)),),
            inputs={"raw_events": ("extract", "raw_events")},
        ),
        StepDef(
            "load",
            '@step\ndef load(features: pd.DataFrame) -> Annotated[int, "rows_written"]:\n'
            '    return feature_store.write("customer_features", features)\n',
            (10, 120),
            (
                OutputDef(
                    "rows_written",
                    ArtifactType.DATA,
                    source("builtins", "int", "builtin"),
                    BUILTIN_MATERIALIZER,
                    (VisualizationType.JSON,),
                    size=(2, 8),
                ),
            ),
            inputs={"features": ("transform", "features")},
            failure="PermissionError: feature store rejected the write (403)",
        ),
    ),
)

BATCH_INFERENCE = PipelineDef(
    name="batch_inference",
    description="Scores today's active customers with the production churn classifier.",
    weight=0.25,
    uses_model="churn_classifier",
    steps=(
        StepDef(
            "load_batch",
            '@step\ndef load_batch() -> Annotated[pd.DataFrame, "batch"]:\n'
            '    return feature_store.read("customer_features", active=True)\n',
            (10, 60),
            (_df("batch"),),
        ),
        StepDef(
            "predict",
            "@step\ndef predict(batch: pd.DataFrame, model: ClassifierMixin) -> "
            'Annotated[pd.DataFrame, "predictions"]:\n'
            "    return batch.assign(churn_probability=model.predict_proba(batch)[:, 1])\n",
            (20, 300),
            (_df("predictions"),),
            inputs={"batch": ("load_batch", "batch")},
            failure="ValueError: X has 41 features, but RandomForestClassifier is expecting 42 features",
        ),
        StepDef(
            "store_predictions",
            '@step\ndef store_predictions(predictions: pd.DataFrame) -> Annotated[int, "rows_stored"]:\n'
            '    return warehouse.write("churn_scores", predictions)\n',
            (5, 60),
            (
                OutputDef(
                    "rows_stored",
                    ArtifactType.DATA,
                    source("builtins", "int", "builtin"),
                    BUILTIN_MATERIALIZER,
                    (VisualizationType.JSON,),
                    size=(2, 8),
                ),
            ),
            inputs={"predictions": ("predict", "predictions")},
        ),
    ),
)

PIPELINES = (TRAINING, ETL, BATCH_INFERENCE)

TAGS = (("experiment", "teal"), ("gpu", "orange"), ("baseline", "grey"), ("release-candidate", "green"))

MODELS = {
    "churn_classifier": {
        "description": "Predicts which customers cancel their subscription in the next 30 days.",
        "license": "Proprietary",
        "audience": "Customer success and retention marketing.",
        "use_cases": "Rank accounts for retention outreach.",
        "limitations": "Trained on accounts older than 90 days; unreliable for new customers.",
        "trade_offs": "Favours recall over precision: outreach is cheap, churn is not.",
        "ethics": "No protected attributes are used as features.",
    },
    "sentiment_bert": {
        "description": "Fine-tuned BERT that classifies support tickets as positive, neutral or negative.",
        "license": "Apache-2.0",
        "audience": "Support operations.",
    },
}


def _step_config(pipeline: PipelineDef, step: StepDef) -> dict:
    outputs = {
        output.name: {
            "materializer_source": [output.materializer],
            "default_materializer_source": None,
            "artifact_config": None,
        }
        for output in step.outputs
    }
    return {
        "enable_cache": True if step.cacheable else None,
        "enable_artifact_metadata": None,
        "enable_artifact_visualization": None,
        "enable_step_logs": None,
        "step_operator": None,
        "experiment_tracker": None,
        "parameters": dict(step.parameters),
        "settings": {},
        "environment": {},
        "secrets": [],
        "extra": {},
        "failure_hook_source": None,
        "success_hook_source": None,
        "start_hook_source": None,
        "end_hook_source": None,
        "model": _model_config(pipeline),
        "retry": None,
        "substitutions": {},
        "cache_policy": {
            "include_step_code": True,
            "include_step_parameters": True,
            "include_artifact_values": True,
            "include_artifact_ids": True,
            "ignored_inputs": None,
            "file_dependencies": None,
            "source_dependencies": None,
            "cache_func": None,
            "expires_after": None,
        },
        "runtime": None,
        "heartbeat_healthy_threshold": 30,
        "group": None,
        "outputs": outputs,
        "name": step.name,
        "step_type": None,
        "template": None,
        "caching_parameters": {
            "step_source": step.code_hash(),
            "output_materializer_source": hashlib.md5(str(outputs).encode(), usedforsecurity=False).hexdigest(),
        },
        "external_input_artifacts": {},
        "model_artifacts_or_metadata": {},
        "client_lazy_loaders": {},
        "command": None,
    }


def _parameter_spec(title: str, parameters: dict) -> dict:
    if not parameters:
        return {}
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return {
        "additionalProperties": False,
        "properties": {
            key: {"default": value, "title": key.replace("_", " ").title(), "type": kinds[type(value)]}
            for key, value in parameters.items()
        },
        "title": title,
        "type": "object",
    }


def _step_spec(pipeline: PipelineDef, step: StepDef) -> dict:
    return {
        "source": source(f"pipelines.{pipeline.name}", step.name, "user"),
        "upstream_steps": step.upstream,
        "inputs": {
            name: {"step_name": up, "output_name": out, "chunk_index": None, "chunk_size": None}
            for name, (up, out) in step.inputs.items()
        },
        "invocation_id": step.name,
        "enable_heartbeat": False,
        "parameter_spec": _parameter_spec(f"{step.name.title().replace('_', '')}Parameters", step.parameters),
    }


def _model_config(pipeline: PipelineDef) -> dict | None:
    name = pipeline.model or pipeline.uses_model
    if name is None:
        return None
    return {
        "name": name,
        "version": None if pipeline.model else "production",
        "description": MODELS[name]["description"],
        "tags": None,
        "save_models_to_registry": True,
        "suppress_class_validation_warnings": False,
    }


def snapshot_fields(pipeline: PipelineDef) -> dict:
    """Field values of the PipelineSnapshot a client would register for `pipeline`."""
    steps = {
        step.name: {
            "spec": _step_spec(pipeline, step),
            "config": _step_config(pipeline, step),
            "step_config_overrides": _step_config(pipeline, step),
        }
        for step in pipeline.steps
    }
    spec = {
        "version": "0.5",
        "source": source(f"pipelines.{pipeline.name}", pipeline.name, "user"),
        "parameters": dict(pipeline.parameters),
        "input_schema": _parameter_spec("PipelineInput", pipeline.parameters) or {"title": "PipelineInput"},
        "steps": [steps[step.name]["spec"] for step in pipeline.steps],
        "outputs": [],
        "output_schema": {"properties": {}, "title": "PipelineOutput", "type": "object"},
    }
    version_hash = hashlib.md5(repr(spec).encode(), usedforsecurity=False).hexdigest()
    return {
        "run_name_template": f"{pipeline.name}-{{date}}-{{time}}",
        "pipeline_configuration": _pipeline_configuration(pipeline),
        "step_configurations": steps,
        "pipeline_spec": spec,
        "pipeline_version_hash": version_hash,
        "client_environment": dict(ENVIRONMENT),
        "client_version": ZENML_VERSION,
        "server_version": ZENML_VERSION,
        "source_code": "\n".join(step.code for step in pipeline.steps),
        "is_dynamic": False,
    }


def _pipeline_configuration(pipeline: PipelineDef) -> dict:
    return {
        "enable_cache": any(step.cacheable for step in pipeline.steps),
        "enable_artifact_metadata": None,
        "enable_artifact_visualization": None,
        "enable_step_logs": None,
        "enable_heartbeat": None,
        "environment": {},
        "secrets": [],
        "enable_pipeline_logs": None,
        "execution_mode": "continue_on_failure",
        "settings": {},
        "tags": None,
        "extra": {},
        "failure_hook_source": None,
        "success_hook_source": None,
        "start_hook_source": None,
        "end_hook_source": None,
        "pause_hook_source": None,
        "resume_hook_source": None,
        "init_hook_source": None,
        "init_hook_kwargs": None,
        "cleanup_hook_source": None,
        "model": _model_config(pipeline),
        "parameters": dict(pipeline.parameters),
        "retry": None,
        "substitutions": {},
        "cache_policy": None,
        "name": pipeline.name,
        "steps_to_skip": [],
        "skip_successful_steps": False,
        "step_input_overrides": {},
        "step_default_input_overrides": {},
    }
