"""Spec format v1: the YAML that documents one ML model, as pydantic models.

This is the shape users write for years, so it is designed for people: snake_case keys, one
model per file, features listed in the order a reader expects, and a source written the way
people think of it (``column: svc.db.schema.table.col`` or ``table: ...`` with ``column: col``).
Everything is strict: unknown keys, wrong types and malformed names are errors, never guesses.

Cross-field rules (duplicate names, source shapes, files next to the spec) live in
``mlmeta.spec.rules``; this module only describes shapes, which is also what the JSON Schema
for editors is generated from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from mlmeta.catalog import fqn
FORMAT_VERSION = 1
DEFAULT_ALIAS = "champion"
DEFAULT_STAGE = "Production"
Stage = Literal["Production", "Staging"]
STAGES = get_args(Stage)


def _name(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty_name", "cannot be empty")
    if value != value.strip():
        raise PydanticCustomError("name_whitespace", "cannot start or end with spaces")
    if '"' in value:
        raise PydanticCustomError("name_quote", "cannot contain double quotes")
    if "::" in value:
        raise PydanticCustomError("name_reserved", "cannot contain '::' (OpenMetadata reserves it)")
    # OpenMetadata 2.0 refuses '>' in entity names (1.x does not): refused everywhere, so that a spec
    # stays valid across an upgrade
    if ">" in value:
        raise PydanticCustomError("name_gt", "cannot contain '>' (OpenMetadata 2.0 refuses it)")
    # control, bidirectional and invisible characters: S011 from mlmeta.spec.rules, which checks every
    # name (FQNs and columns too) and names the code point
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty_text", "cannot be empty (leave the key out instead)")
    return value


def _fqn_type(what: str, parts: int | tuple[int, int], example: str):
    def check(value: str) -> str:
        try:
            fqn.check_parts(value, parts, what)
        except fqn.FqnError as error:
            message = f"{error}; expected something like {example!r}"
            raise PydanticCustomError("fqn", message.replace("{", "{{").replace("}", "}}")) from None
        return value

    low, high = (parts, parts) if isinstance(parts, int) else parts
    part = r'(?:[^."]+|"[^"]+")'
    repeat = f"{{{low - 1}}}" if low == high else f"{{{low - 1},}}"
    schema = {
        "type": "string",
        "pattern": rf"^{part}(?:\.{part}){repeat}$",
        "description": f"{what} FQN, e.g. {example}",
    }
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


def _scalar_to_text(value: Any) -> Any:
    """Hyperparameter values are strings in OpenMetadata; let people write 0.5 or true."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return value


Name = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_name)]
Text = Annotated[str, AfterValidator(_text)]
TableFqn = _fqn_type("table", 4, "service.database.schema.table")
ColumnFqn = _fqn_type("column", 5, "service.database.schema.table.column")
DashboardFqn = _fqn_type("dashboard", 2, "service.dashboard")
TopicFqn = _fqn_type("topic", 2, "service.topic")
ContainerFqn = _fqn_type("container", (2, 99), "service.bucket or service.bucket.prefix")
DataModelFqn = _fqn_type("dashboard data model", 3, "service.model.name")
SearchIndexFqn = _fqn_type("search index", 2, "service.index")
TagFqn = _fqn_type("tag", (2, 99), "Classification.Tag")
GlossaryTermFqn = _fqn_type("glossary term", (2, 99), "Glossary.Term")
DomainFqn = _fqn_type("domain", (1, 99), "Marketing or Marketing.Campaigns")
Url = Annotated[str, Field(pattern=r"^https?://[^\s/]+\S*$", description="an http(s) URL")]
ParamValue = Annotated[str, BeforeValidator(_scalar_to_text)]
FeatureType = Literal["numerical", "categorical"]
SourceDataType = Literal["integer", "number", "string", "array", "date", "timestamp", "object", "boolean"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MlflowSettings(_Strict):
    """Where the model lives in the MLflow Model Registry and how Production is recognised."""

    registered_model: Name | None = Field(None, description="Registered model name (default: the spec's name).")
    alias: Name | None = Field(None, description=f"Alias marking Production (default from configuration, "
                                                 f"normally {DEFAULT_ALIAS!r}).")
    stage: Stage | None = Field(
        DEFAULT_STAGE, description="Classic stage accepted when the alias is not set; null disables the fallback.")
    when_not_in_production: Literal["keep", "mark", "delete"] | None = Field(
        None, description="What publish does to the catalog's model once no version is in Production any more: "
                          "keep it as it is, mark it (a notice in its description, and the configured tag), or "
                          "soft-delete it (default from configuration: keep).")


class KubeflowProduction(_Strict):
    """What marks the Production version in Kubeflow Model Registry - declared, never guessed: one of
    a version's custom property and its value, a label, the newest LIVE version, or a custom
    property of the registered model naming the version."""

    property: Name | None = Field(None, description="A version's custom property (with 'value'), e.g. stage.")
    value: Text | None = Field(None, description="The string the property holds on the Production version.")
    label: Name | None = Field(None, description="A label (a custom property with an empty value, as the KF MR UI "
                                                 "shows it) carried by the Production version.")
    state: Literal["LIVE"] | None = Field(None, description="LIVE (with newest: true): the newest LIVE version.")
    newest: bool | None = Field(None, description="With state: LIVE - the newest LIVE version is in Production.")
    version_property: Name | None = Field(
        None, description="A custom property of the registered model whose value is the Production version's name.")


class KubeflowSettings(_Strict):
    """Where the model lives in Kubeflow Model Registry (when the registry is kubeflow)."""

    registered_model: Name | None = Field(None, description="Registered model name (default: the spec's name).")
    production: KubeflowProduction | None = Field(None, description="What marks the Production version (required "
                                                                      "when the registry is kubeflow).")


class Owners(_Strict):
    users: list[Name] = Field(default_factory=list, description="User names (not e-mails).")
    teams: list[Name] = Field(default_factory=list, description="Team names.")


class ModelCard(_Strict):
    """Model-card sections OpenMetadata has no field for; rendered into the description."""

    intended_use: Text | None = None
    out_of_scope_use: Text | None = None
    factors: Text | None = Field(None, description="Groups, conditions and environments the performance varies over.")
    training_data: Text | None = None
    evaluation: Text | None = None
    evaluation_data: Text | None = Field(None, description="The datasets the model was evaluated on, and why.")
    metrics: Text | None = Field(None, description="The measures reported, and why they were chosen.")
    quantitative_analyses: Text | None = Field(None, description="Results per factor, with their uncertainty.")
    limitations: Text | None = None
    ethical_considerations: Text | None = None
    human_oversight: Text | None = Field(None, description="How people oversee its use and can override it.")
    caveats_and_recommendations: Text | None = None
    license: Name | None = Field(None, description="The model's license for a published card: an SPDX-style id "
                                                   "(apache-2.0, mit ...) or 'other'.")
    task: Name | None = Field(None, description="The task, as Hugging Face names it (tabular-classification, "
                                                "tabular-regression, text-classification ...), for an exported card.")
    custom_sections: dict[str, Text] = Field(default_factory=dict, description="Further sections: title -> Markdown.")


ASSET_KEYS = ("table", "topic", "container", "dashboard_data_model", "search_index")
SOURCE_SHAPE = {"oneOf": [{"required": [key]} for key in ASSET_KEYS] + [{
    "required": ["column"], "not": {"anyOf": [{"required": [key]} for key in ASSET_KEYS]}}]}


class DataRef(_Strict):
    """One asset, whole or one of its children: a table column (``column: <column FQN>``, or
    ``table`` + ``column``), a topic or search index field (``topic`` or ``search_index`` +
    ``field``), a container or dashboard data model column (+ ``column``), or the whole asset
    (its key alone)."""

    model_config = ConfigDict(json_schema_extra=SOURCE_SHAPE)

    table: TableFqn | None = None
    topic: TopicFqn | None = Field(None, description="A Kafka/Redpanda/... topic, e.g. kafka.user_events.")
    container: ContainerFqn | None = Field(None, description="An object-store container (bucket / prefix).")
    dashboard_data_model: DataModelFqn | None = Field(None, description="A BI tool's data model.")
    search_index: SearchIndexFqn | None = None
    column: Text | None = Field(None, description="The column's name with 'table', 'container' or "
                                                  "'dashboard_data_model'; alone, a table column's FQN.")
    field: Text | None = Field(None, description="With 'topic' or 'search_index': the path to a schema field, "
                                                 "dot-separated (a name containing a dot in double quotes).")
    description: Text | None = None


class Source(DataRef):
    """Where a feature comes from: one asset, whole or one of its children."""

    data_type: SourceDataType | None = Field(None, description="Override of the type read from the catalog.")


class Output(DataRef):
    """Where the model's predictions land: an asset, whole or the column or field that receives
    the prediction (drawn as column-level lineage from the features that feed it)."""

    features: list[Name] | None = Field(None, description="The features the prediction is computed from "
                                                          "(default: all of them).")


class Feature(_Strict):
    name: Name
    type: FeatureType = Field(description="numerical or categorical")
    description: Text | None = None
    algorithm: Text | None = Field(None, description="How the feature is computed, e.g. PCA, bucketing.")
    tags: list[TagFqn] | None = None
    sources: list[Source] = Field(default_factory=list)


class Hyperparameter(_Strict):
    value: ParamValue | None = Field(None, description="Override of the value logged in the MLflow run.")
    description: Text | None = None


class MlStore(_Strict):
    storage: Text | None = Field(None, description="Override of the artifact location from MLflow.")
    image_repository: Text | None = None


class ModelSpec(_Strict):
    """One ML model, as documented next to its code."""

    model_config = ConfigDict(title="mlmeta model spec v1")

    mlmeta: Literal[1] = Field(description="Spec format version.")
    name: Name = Field(description="Model name in OpenMetadata.")
    display_name: Text | None = None
    service: Name | None = Field(None, description="OpenMetadata ML model service (default from configuration).")
    description: Text | None = Field(None, description="Markdown.")
    description_file: Text | None = Field(None, description="Markdown file, relative to the spec, inside its repository.")
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    registry: Literal["mlflow", "kubeflow"] | None = Field(
        None, description="The model registry the model lives in (default from configuration: mlflow).")
    kubeflow: KubeflowSettings | None = None
    algorithm: Text | None = Field(None, description="Default: the MLflow flavor.")
    target: Name | None = None
    server: Url | None = Field(None, description="Where the model is served.")
    dashboard: DashboardFqn | None = None
    owners: Owners | None = None
    tags: list[TagFqn] | None = None
    glossary_terms: list[GlossaryTermFqn] | None = None
    domain: DomainFqn | None = None
    model_card: ModelCard | None = None
    features: list[Feature] = Field(default_factory=list)
    hyperparameters: dict[str, Hyperparameter] | None = Field(
        None, description="Name -> value override and/or description; values come from the MLflow run.")
    ml_store: MlStore | None = None
    label_sources: list[DataRef] | None = Field(
        None, description="Where the target's labels come from; they count as sources when training data is checked.")
    outputs: list[Output] | None = Field(None, description="Where the model's predictions land (downstream lineage).")
    training_data: Literal["check", "lineage", "ignore"] | None = Field(
        None, description="The datasets MLflow logged for the Production version: check them against the sources, "
                          "also draw them as lineage, or ignore them (default from configuration: check).")

    @property
    def registered_model(self) -> str:
        kubeflow = self.kubeflow.registered_model if self.kubeflow else None
        return self.mlflow.registered_model or kubeflow or self.name
