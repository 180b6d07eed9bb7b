from django.db import models


class ExecutionStatus(models.TextChoices):
    INITIALIZING = "initializing"
    PROVISIONING = "provisioning"
    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    COMPLETED = "completed"
    CACHED = "cached"
    SKIPPED = "skipped"
    RETRYING = "retrying"
    RETRIED = "retried"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    PAUSED = "paused"
    RESUMING = "resuming"
    STOPPED = "stopped"
    STOPPING = "stopping"

    @classmethod
    def finished(cls) -> frozenset[str]:
        return frozenset({cls.FAILED, cls.COMPLETED, cls.CACHED, cls.SKIPPED, cls.RETRIED, cls.CANCELLED, cls.STOPPED})


class ArtifactType(models.TextChoices):
    DATA_ANALYSIS = "DataAnalysisArtifact"
    DATA = "DataArtifact"
    MODEL = "ModelArtifact"
    SCHEMA = "SchemaArtifact"
    SERVICE = "ServiceArtifact"
    STATISTICS = "StatisticsArtifact"
    BASE = "BaseArtifact"


class ArtifactSaveType(models.TextChoices):
    STEP_OUTPUT = "step_output"
    MANUAL = "manual"
    PREEXISTING = "preexisting"
    EXTERNAL = "external"


class StepRunInputArtifactType(models.TextChoices):
    STEP_OUTPUT = "step_output"
    EXTERNAL = "external"
    MANUAL = "manual"
    LAZY_LOADED = "lazy_loaded"


class VisualizationType(models.TextChoices):
    CSV = "csv"
    HTML = "html"
    IMAGE = "image"
    MARKDOWN = "markdown"
    JSON = "json"


class StackComponentType(models.TextChoices):
    ALERTER = "alerter"
    ANNOTATOR = "annotator"
    ARTIFACT_STORE = "artifact_store"
    CONTAINER_REGISTRY = "container_registry"
    DATA_VALIDATOR = "data_validator"
    EXPERIMENT_TRACKER = "experiment_tracker"
    FEATURE_STORE = "feature_store"
    IMAGE_BUILDER = "image_builder"
    LOG_STORE = "log_store"
    MODEL_DEPLOYER = "model_deployer"
    ORCHESTRATOR = "orchestrator"
    STEP_OPERATOR = "step_operator"
    MODEL_REGISTRY = "model_registry"
    DEPLOYER = "deployer"
    SANDBOX = "sandbox"


class TaggableResourceType(models.TextChoices):
    ARTIFACT = "artifact"
    ARTIFACT_VERSION = "artifact_version"
    MODEL = "model"
    MODEL_VERSION = "model_version"
    PIPELINE = "pipeline"
    PIPELINE_RUN = "pipeline_run"
    RUN_TEMPLATE = "run_template"
    PIPELINE_SNAPSHOT = "pipeline_snapshot"
    DEPLOYMENT = "deployment"


class ColorVariant(models.TextChoices):
    GREY = "grey"
    PURPLE = "purple"
    RED = "red"
    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    LIME = "lime"
    TEAL = "teal"
    TURQUOISE = "turquoise"
    MAGENTA = "magenta"
    BLUE = "blue"


class ModelStage(models.TextChoices):
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class MetadataResourceType(models.TextChoices):
    PIPELINE_RUN = "pipeline_run"
    STEP_RUN = "step_run"
    ARTIFACT_VERSION = "artifact_version"
    MODEL_VERSION = "model_version"
    SCHEDULE = "schedule"
    WAIT_CONDITION = "wait_condition"


class StepType(models.TextChoices):
    DEFAULT = "default"
    DYNAMIC = "dynamic"
