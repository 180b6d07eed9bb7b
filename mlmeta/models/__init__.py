from mlmeta.models.artifacts import Artifact, ArtifactVersion, ArtifactVisualization
from mlmeta.models.automation import Trigger, TriggerDispatch, TriggerSnapshot
from mlmeta.models.metadata import RunMetadata, Tag, TagResource
from mlmeta.models.pipelines import (
    CodeReference,
    CodeRepository,
    Pipeline,
    PipelineBuild,
    PipelineSnapshot,
    RunTemplate,
    Schedule,
)
from mlmeta.models.registry import Model, ModelVersion, ModelVersionArtifact, ModelVersionPipelineRun
from mlmeta.models.runs import Logs, PipelineRun, StepRun, StepRunInput, StepRunOutput
from mlmeta.models.stacks import Flavor, Stack, StackComponent

__all__ = [
    "Artifact",
    "ArtifactVersion",
    "ArtifactVisualization",
    "CodeReference",
    "CodeRepository",
    "Flavor",
    "Logs",
    "Model",
    "ModelVersion",
    "ModelVersionArtifact",
    "ModelVersionPipelineRun",
    "Pipeline",
    "PipelineBuild",
    "PipelineRun",
    "PipelineSnapshot",
    "RunMetadata",
    "RunTemplate",
    "Schedule",
    "Stack",
    "StackComponent",
    "StepRun",
    "StepRunInput",
    "StepRunOutput",
    "Tag",
    "TagResource",
    "Trigger",
    "TriggerDispatch",
    "TriggerSnapshot",
]
