"""What each finding code means, why it happens, how to fix it, and an example: the one table that
``mlmeta explain CODE`` and the documentation's finding-code page (``mlmeta.tooling.docs_site``) read.

``diagnostics.CODES`` keeps each code's one-line meaning; this table adds the longer account, one
``Explanation`` per code, and a test proves the two tables hold the same codes. The examples are
what mlmeta prints for them (a path, a line and a column, the code, the message).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from mlmeta.diagnostics import CODES

KINDS = {"F": "files", "Y": "YAML", "S": "spec structure", "R": "references (validate --online, plan, publish)",
         "P": "publishing", "O": "ownership (many projects, one service)", "D": "drift"}


@dataclass(frozen=True)
class Explanation:
    why: str  # what makes it happen
    fix: str  # what to do about it
    example: str  # what a spec or a command says, and the finding mlmeta prints for it


EXPLANATIONS: dict[str, Explanation] = {
    # --- files and YAML ---------------------------------------------------------------------------
    "F001": Explanation(
        why="The path was given or listed, but there is nothing to read there: no such file, a folder where a "
            "file was expected, or a file the user running mlmeta may not read.",
        fix="Correct the path (PATHS, spec_paths or description_file), or give the user read access.",
        example="mlmeta validate model_specs/chrun.yaml\n"
                "model_specs/chrun.yaml:1:1: error F001 file not found"),
    "F002": Explanation(
        why="The file holds nothing but blank lines or comments, so there is no spec in it.",
        fix="Write the spec (mlmeta init --from-registry MODEL starts one), or delete the file.",
        example="model_specs/churn.yaml:1:1: error F002 file is empty: a spec needs at least 'mlmeta', 'name' and "
                "'features'"),
    "F003": Explanation(
        why="A byte of the file is not UTF-8: it was saved in another encoding (Latin-1, UTF-16 ...).",
        fix="Save the file as UTF-8; the finding points at the first byte that is not.",
        example="name: café   (saved as Latin-1)\n"
                "model_specs/churn.yaml:1:10: error F003 file is not valid UTF-8 (byte 0xe9); save it as UTF-8"),
    "F004": Explanation(
        why="The file is over 1 MiB. No spec is that big; mlmeta refuses to parse it rather than spend memory on "
            "something that is not one.",
        fix="Move long texts into a description_file, or check that the file is a spec at all.",
        example="model_specs/dump.yaml:1:1: error F004 file is larger than 1024 KiB; a spec is never that big"),
    "F005": Explanation(
        why="A path leaves the repository (an absolute path, ../.., or a symlink pointing outside), loops back "
            "into a folder it is in, or is not a regular file. A spec from a pull request must not make mlmeta "
            "read - and publish - a file of the machine it runs on, so nothing is read.",
        fix="Keep spec files and description_file inside the repository (the git top level, or the project "
            "file's folder), as regular files; replace the symlink with the file itself.",
        example="description_file: /proc/self/environ\n"
                "model_specs/churn.yaml:4:19: error F005 ... outside the repository ...; not read"),
    "Y001": Explanation(
        why="The file is not valid YAML: an unclosed bracket or quote, a tab used for indentation, a key and "
            "value at the wrong indentation, a colon where YAML reads a mapping.",
        fix="Correct the YAML at the position shown (the message names what was left open or unexpected); an "
            "editor with the spec's schema (mlmeta schema -o mlmeta.schema.json) marks it as you type.",
        example="name: [churn\n"
                "model_specs/churn.yaml:2:7: error Y001 YAML syntax error: this '[' is never closed (the parser "
                "gave up at the end of the file)"),
    "Y002": Explanation(
        why="A mapping holds one key twice. YAML parsers silently keep the last one; mlmeta refuses, since one "
            "of the two values is a mistake.",
        fix="Keep one of them (the message gives the line of the first).",
        example="name: a\nname: b\n"
                "model_specs/churn.yaml:3:1: error Y002 duplicate key 'name' (first defined at line 2, column 1)"),
    "Y003": Explanation(
        why="Aliases (&a / *a) expand to more than 100,000 values, or the nesting is deeper than 64 levels: the "
            "shape of a YAML bomb, refused before it is built.",
        fix="Write the values out, or use fewer aliases; a real spec is far below both limits.",
        example="model_specs/bomb.yaml:1:26: error Y003 the document expands to more than 100000 values (aliases "
                "expanding exponentially?); refusing to load it"),
    "Y004": Explanation(
        why="A YAML tag asks the loader to build something other than plain data (!!python/..., !include, a "
            "custom tag), or a merge key (<<) points at something that is not a mapping. mlmeta builds only "
            "strings, numbers, booleans, nulls, lists and mappings.",
        fix="Remove the tag and write the value itself.",
        example="name: !!python/name:os.system churn\n"
                "model_specs/churn.yaml:2:7: error Y004 unsupported YAML tag '!!python/name:os.system': specs hold "
                "plain strings, numbers, lists and mappings ..."),
    "Y005": Explanation(
        why="A mapping key is a number, a boolean or null (YAML reads 1:, yes: or ~: so), where every key of a "
            "spec is a name.",
        fix="Quote the key if it is meant as text ('1': ...), or correct it.",
        example="1: churn\n"
                "model_specs/churn.yaml:2:1: error Y005 mapping keys must be strings, found '1'; quote it if it is "
                "meant as text"),
    # --- spec structure --------------------------------------------------------------------------
    "S001": Explanation(
        why="A key the spec format does not have at that place: usually a typo, or a key at the wrong "
            "indentation. Unknown keys are refused rather than ignored, so that a misspelt one never silently "
            "does nothing.",
        fix="Use the key the \"did you mean\" suggests, or move it to where it belongs (docs/spec.md lists every "
            "key).",
        example="      - colum: average_price\n"
                "model_specs/churn.yaml:17:9: error S001 unknown key 'colum'; did you mean 'column'?"),
    "S002": Explanation(
        why="A key the spec must have is missing: 'name' and 'mlmeta' always, 'service' when neither the spec "
            "nor the project file names one, a Kubeflow model's Production rule.",
        fix="Add the key; the finding is at the mapping that lacks it.",
        example="model_specs/churn.yaml:1:1: error S002 missing required key 'name'"),
    "S003": Explanation(
        why="A value has the wrong type: a string where a list is expected, a list where a mapping is.",
        fix="Write the value in the shape the message names (docs/spec.md shows each key's type).",
        example="features: tenure\n"
                "model_specs/churn.yaml:4:11: error S003 features: expected a list, found a string ('tenure')"),
    "S004": Explanation(
        why="A value of the right type that is not allowed: a word outside its list (type: numeric), an empty "
            "name, a URL that is not http(s), an output naming a feature the spec does not have.",
        fix="Use one of the values the message lists.",
        example="    type: numeric\n"
                "model_specs/churn.yaml:6:11: error S004 features[0].type: invalid value 'numeric'; expected "
                "'numerical' or 'categorical'"),
    "S005": Explanation(
        why="A fully qualified name does not have the parts its kind needs: a column FQN is "
            "service.database.schema.table.column, a table FQN four parts; a part holding a dot must be quoted "
            "(kafka.\"mysql.demo.users\").",
        fix="Write the whole FQN as OpenMetadata shows it, or name the asset with 'table' (or 'topic' ...) and the "
            "column with 'column'.",
        example="      - column: users.tenure\n"
                "model_specs/churn.yaml:8:17: error S005 features[0].sources[0].column: a column FQN has 5 "
                "dot-separated parts, 'users.tenure' has 2; ..."),
    "S006": Explanation(
        why="One name twice where names must be unique: two features, two sources of one feature, a tag or an "
            "owner listed twice, or two spec files describing the same model (they would overwrite each other on "
            "every publish).",
        fix="Remove or rename the duplicate; for two specs of one model, keep one file.",
        example="model_specs/churn.yaml:9:11: error S006 features[1].name: duplicate feature name 'tenure' (same "
                "as features[0])"),
    "S007": Explanation(
        why="Keys that conflict or are incomplete together: description and description_file both set, a source "
            "that names no asset, an MLflow block whose alias and stage are both null, a Kubeflow Production rule "
            "given two ways or without its value.",
        fix="Keep one of the conflicting keys, or add the one the message says is missing.",
        example="description: Churn model\ndescription_file: README.md\n"
                "model_specs/churn.yaml:5:1: error S007 set either 'description' or 'description_file', not both"),
    "S008": Explanation(
        why="The spec declares a format version this mlmeta does not read (mlmeta: 2), or none it knows.",
        fix="Write mlmeta: 1, or upgrade mlmeta if the spec was written for a newer one.",
        example="model_specs/churn.yaml:1:9: error S008 unsupported spec format version 2: this mlmeta reads "
                "'mlmeta: 1'"),
    "S009": Explanation(
        why="description_file names a file that does not exist; the path is taken relative to the spec's folder.",
        fix="Create the file, or correct the path (relative to the spec).",
        example="description_file: docs/churn.md\n"
                "model_specs/churn.yaml:4:19: error S009 description_file: file 'docs/churn.md' not found next to "
                "the spec"),
    "S010": Explanation(
        why="The project's model-card policy ([policy] in mlmeta.toml, [tool.mlmeta.policy] in pyproject.toml) "
            "requires sections for a tag the spec carries, and the spec's model_card lacks one of them.",
        fix="Write the section under model_card, or change the policy if the tier no longer needs it.",
        example="tags: [Tier.Tier1]   (policy: \"Tier.Tier1\" = [\"intended_use\", \"limitations\"])\n"
                "model_specs/churn.yaml:4:8: error S010 tags[0]: Tier.Tier1 models must document "
                "model_card.intended_use (Intended use); ..."),
    "S011": Explanation(
        why="A name (model, feature, FQN, column, owner, tag, service, alias ...) holds a bidirectional control, "
            "an invisible or a control character: the catalog would show a name that reads differently from what "
            "it is (fraud\\u202egnp.exe shows as fraudexe.png).",
        fix="Remove the character the message names by its code point; retype the name if it was pasted.",
        example="model_specs/churn.yaml:5:11: error S011 features[0].name: character 4 of 'ten\\u200bure' is "
                "U+200B ZERO WIDTH SPACE, an invisible character: ...; remove it"),
    "S012": Explanation(
        why="Free text (a description, a model-card section) holds a character that can reorder or hide what a "
            "reader sees: a bidirectional embedding, override or isolate, a tag character, a control character. "
            "A warning: right-to-left prose may mean it.",
        fix="Remove it unless it is meant; --strict makes the warning an error.",
        example="model_specs/churn.yaml:4:14: warning S012 description: character 7 is U+202E RIGHT-TO-LEFT "
                "OVERRIDE, a bidirectional control: ...; remove it unless it is meant"),
    # --- online references ----------------------------------------------------------------------
    "R001": Explanation(
        why="The asset a source, label source or output names (table, topic, container, dashboard data model, "
            "search index) does not exist in OpenMetadata: a typo, another service or database, or an asset not "
            "ingested yet.",
        fix="Correct the FQN (the \"did you mean\" lists the assets beside it), or ingest the asset first.",
        example="      - column: demo_pg.postgres.public.order.last_update\n"
                "model_specs/churn.yaml:12:17: error R001 table 'demo_pg.postgres.public.order' not found in "
                "OpenMetadata; did you mean 'demo_pg.postgres.public.orders'?"),
    "R002": Explanation(
        why="The asset exists, but has no column (or schema field) of that name: a typo, a column renamed or "
            "dropped, or a feature's name written where the column's was meant.",
        fix="Use the column the \"did you mean\" suggests, or one of those the message lists.",
        example="      - {table: demo_pg.postgres.public.users, column: premum}\n"
                "model_specs/churn.yaml:20:48: error R002 column 'premum' not found in table "
                "'demo_pg.postgres.public.users'; did you mean 'premium'?"),
    "R003": Explanation(
        why="The asset is soft-deleted in OpenMetadata: lineage from it would point at something nobody sees.",
        fix="Point the source at the asset that replaced it, or restore the asset in OpenMetadata.",
        example="model_specs/churn.yaml:12:17: error R003 table 'demo_pg.postgres.public.orders' is deleted in "
                "OpenMetadata"),
    "R004": Explanation(
        why="The registry (MLflow, or Kubeflow Model Registry) has no registered model of the name the spec "
            "gives: a typo, another registry, or a Unity Catalog name without its catalog.schema prefix.",
        fix="Use the name as the registry shows it; check MLFLOW_TRACKING_URI (or MODEL_REGISTRY_URL) points at "
            "the right server.",
        example="mlflow:\n  registered_model: chrun\n"
                "model_specs/churn.yaml:6:21: error R004 registered model 'chrun' not found in MLflow at "
                "http://127.0.0.1:5000"),
    "R005": Explanation(
        why="No version carries what marks Production for this spec (its alias, e.g. champion, or its stage; for "
            "Kubeflow its rule). A notice: publish skips the model; with --require-production it fails instead.",
        fix="Promote a version (set the alias or the stage), or correct the alias or stage the spec names.",
        example="mlmeta publish --all\n"
                "model_specs/churn.yaml:2:7: notice R005 not in production: no version of 'churn' has alias "
                "'champion' or stage 'Production'"),
    "R006": Explanation(
        why="A feature is not an input of the Production version's signature, or is numerical where the "
            "signature takes text: the spec documents another model than the one serving. A notice when the "
            "version logged no signature (nothing to compare).",
        fix="Rename the feature as the model's input is named, or correct its type; a warning, an error with "
            "--strict.",
        example="model_specs/churn.yaml:9:11: warning R006 feature 'tenure_days' is not an input of version 3 of "
                "'churn'"),
    "R007": Explanation(
        why="The Production version's signature has inputs no feature of the spec describes.",
        fix="Add a feature for each input the message lists (mlmeta init shows them all); a warning, an error "
            "with --strict.",
        example="model_specs/churn.yaml:7:1: warning R007 signature inputs of version 3 of 'churn' not covered by "
                "a feature: plan"),
    "R008": Explanation(
        why="The ML model service the spec (or the project's default) names does not exist in OpenMetadata, or "
            "no service is named at all.",
        fix="Create the service in OpenMetadata, run publish --create-service, or correct the name; set "
            "'service' in the spec or the project file when none is named.",
        example="model_specs/churn.yaml:3:10: error R008 ML model service 'mlflow_model' not found in "
                "OpenMetadata; create it, or rerun with --create-service"),
    "R009": Explanation(
        why="A user, team, tag, glossary term, dashboard or domain the spec names does not exist in OpenMetadata.",
        fix="Use the name OpenMetadata shows (the \"did you mean\" helps for owners), or create it there first.",
        example="owners:\n  teams: [ml_platfrom]\n"
                "model_specs/churn.yaml:8:11: error R009 team 'ml_platfrom' not found in OpenMetadata; did you "
                "mean 'ml_platform'?"),
    "R010": Explanation(
        why="The Production version's run logged a training dataset (mlflow.log_input) that maps, by the "
            "project's [datasets] rules, to an asset no source of the spec names: the catalog's lineage would "
            "say the model was trained on other data than the run did.",
        fix="Name the asset as a feature's source, or under label_sources when the labels come from it; a "
            "warning, an error with --strict; training_data: ignore turns the check off.",
        example="model_specs/churn.yaml:7:1: warning R010 features: version 2 trained on users@eb5d105a (MLflow "
                "run 4f2e...): table 'demo_pg.postgres.public.users', which no source of the spec names"),
    "R011": Explanation(
        why="A source's asset is not among the datasets the Production version logged for training (only when "
            "it logged any): the data may come in another way, or the spec names the wrong asset.",
        fix="Nothing, if the source is right (a notice); else correct it, or log the dataset in the training run.",
        example="model_specs/churn.yaml:12:17: notice R011 demo_pg.postgres.public.orders is not among the "
                "datasets version 2 logged for training (users@eb5d105a)"),
    "R012": Explanation(
        why="A training dataset maps to no catalog asset (no [datasets] rule covers its table name or URI, it is "
            "a Hugging Face dataset or code, its source is no JSON) or to one the catalog lacks: nothing is drawn "
            "or checked for it.",
        fix="Add a rule under [datasets.tables] or [datasets.storage] in the project file, or ingest the asset; "
            "a notice, nothing fails.",
        example="model_specs/churn.yaml:12:1: notice R012 features: version 1 trained on holidays@8e6b5ff0 (MLflow "
                "run 0c69...), which maps to no catalog asset: no rule under [datasets.storage] in mlmeta.toml "
                "covers https://opendata.example.com/public-holidays/2026.csv"),
    "R013": Explanation(
        why="The Kubeflow Model Registry Production rule cannot tell which version is in Production: two live "
            "versions match it, a custom property it reads is not a string, or the registered model names a "
            "version it does not have.",
        fix="Keep the marker on exactly one version, and store it as a string property.",
        example="model_specs/eta.yaml:9:7: error R013 custom property stage = 'production' matches 2 versions of "
                "'delivery_time_kf': 'v1', 'v2'; exactly one may be in Production"),
    "R014": Explanation(
        why="The spec waits for an alias that no version of the registered model carries, while versions carry "
            "others - one close to it (a typo), or other aliases altogether. Left alone, the model would wait "
            "for Production forever with no one told.",
        fix="Write the alias a version carries (the message names it and its version), or move the alias in the "
            "registry to the version that is in Production.",
        example="model_specs/churn.yaml:6:10: error R014 no version of 'churn' carries alias 'champoin'; did you "
                "mean 'champion'? (v2 carries it)"),
    # --- publishing -------------------------------------------------------------------------------
    "P001": Explanation(
        why="OpenMetadata refused the model's write (a value it does not accept, an entity it cannot find), a "
            "server kept failing after every retry, or the model kept changing under mlmeta's writes.",
        fix="Read the server's message: a refusal names the field; a server that kept failing needs a rerun when "
            "it is healthy (-v shows every retry). Other models of the run were published.",
        example="model_specs/churn.yaml:2:7: error P001 OpenMetadata refused the model: ..."),
    "P002": Explanation(
        why="The server answered a write as done, but reading the model back shows it does not hold what was "
            "sent (a known write bug of some releases, or one not known yet). mlmeta marks the model incomplete, "
            "so the next publish writes it again instead of trusting it.",
        fix="Rerun publish; if it repeats, report it with the server's version (mlmeta doctor shows it).",
        example="model_specs/churn.yaml:2:7: error P002 OpenMetadata 1.9.4 accepted the PATCH of "
                "mlflow_models.churn but does not hold mlFeatures (read back after the write); ..."),
    "P003": Explanation(
        why="publish --plan applies a saved plan only while everything it was made against still holds: the "
            "specs' text, each model's version and ETag in the catalog, each Production version in the registry. "
            "Something changed since the plan was made (an edit in the catalog's UI, another promotion, a new "
            "commit), so no write of the plan is made - not for this model, not for any other.",
        fix="Make a new plan (mlmeta plan -o plan.json), review it, and apply that one.",
        example="model_specs/churn.yaml:2:7: error P003 the catalog changed since the plan: the model is at version "
                "0.3 now, the plan was made against 0.2; make a new plan"),
    # --- ownership --------------------------------------------------------------------------------
    "O001": Explanation(
        why="Many projects publish into one ML model service, and each model records the project that owns it. "
            "This project has a spec for a model another project owns; publishing it would overwrite that "
            "project's work, so nothing is written.",
        fix="Remove one of the two specs; or, once the owning team agrees, hand the model over with "
            "mlmeta adopt --from OWNER FQN in this project.",
        example="model_specs/churn.yaml:2:7: error O001 mlflow_models.churn belongs to project "
                "'github.com/acme/other' (its mlmetaProject); this project (github.com/acme/models) has a spec for "
                "it too, so mlmeta leaves it alone: remove one of the two specs, or - once its team agrees - take "
                "it over with mlmeta adopt --from github.com/acme/other mlflow_models.churn"),
    "O002": Explanation(
        why="OpenMetadata's MLflow connector ingested this model (no mlmeta mark; its sourceUrl is the registered "
            "model's page). Publish takes it over, and the connector writes its own fields back on its next run: "
            "the two would overwrite each other on every run.",
        fix="Exclude the registered model from the connector (mlModelFilterPattern), or publish mlmeta's models "
            "into a service of their own.",
        example="model_specs/churn.yaml:2:7: warning O002 mlflow_models.churn was written last by OpenMetadata's "
                "MLflow connector; publish takes it over, and the connector's next run writes its algorithm, "
                "features, hyperparameters, ML store and source URL back: ..."),
    "O003": Explanation(
        why="mlmeta published this model before owners were recorded, so it has none: no project may prune it "
            "yet. The spec's next publish records this project as its owner, and that is its only change.",
        fix="Nothing to do: publish. For a model whose spec is gone, mlmeta adopt FQN makes it this project's.",
        example="model_specs/churn.yaml:2:7: notice O003 mlflow_models.churn has no recorded owner yet; the next "
                "publish records this project (github.com/acme/models) as its owner"),
    # --- drift ------------------------------------------------------------------------------------
    "D001": Explanation(
        why="Someone edited a field mlmeta manages (description, features, owners, tags ...) in the catalog after "
            "mlmeta's last publish.",
        fix="Keep the spec's: publish puts it back. Keep the catalog's: mlmeta pull writes the text into the "
            "spec.",
        example="model_specs/churn.yaml:4:14: warning D001 description edited in the catalog by alice at "
                "2026-11-30 09:12 UTC, after mlmeta's last publish; publish puts the spec's back, mlmeta pull "
                "takes the catalog's"),
    "D002": Explanation(
        why="A source's asset was deleted (or soft-deleted) since the model was published: its lineage points at "
            "nothing.",
        fix="Point the source at the asset that replaced it, or restore the asset.",
        example="model_specs/churn.yaml:12:17: warning D002 table 'demo_pg.postgres.public.orders' is deleted in "
                "OpenMetadata"),
    "D003": Explanation(
        why="A source's column or field is no longer in its asset (dropped or renamed since the model was "
            "published).",
        fix="Point the source at the column that replaced it.",
        example="model_specs/churn.yaml:20:48: warning D003 column 'premium' not found in table "
                "'demo_pg.postgres.public.users'; did you mean 'is_premium'?"),
    "D004": Explanation(
        why="A source column's type changed in the catalog since the model recorded it.",
        fix="Check the feature still reads the column right; publish records the new type.",
        example="model_specs/churn.yaml:19:9: warning D004 demo_pg.postgres.public.restaurants.rating is now "
                "VARCHAR (string); the model records integer"),
    "D005": Explanation(
        why="A lineage edge from a source (or to an output) the spec names is missing: someone deleted it, or a "
            "source was added after the model was created (the server draws edges only on create).",
        fix="publish --refresh draws it again.",
        example="model_specs/churn.yaml:7:1: warning D005 lineage from demo_pg.postgres.public.users to "
                "mlflow_models.churn is missing; publish --refresh draws it"),
    "D006": Explanation(
        why="Someone else drew a lineage edge into (or out of) the model that the spec does not name. mlmeta "
            "leaves it alone.",
        fix="Nothing, if it is meant; name the asset in the spec if it is a real source, or delete the edge.",
        example="model_specs/churn.yaml:7:1: warning D006 lineage from kafka.order_events to mlflow_models.churn "
                "was added by admin; the spec does not name it (mlmeta leaves it alone)"),
    "D007": Explanation(
        why="A version reached Production that the catalog does not show yet: it was promoted after the last "
            "publish, or the model was never published (or was not published by mlmeta).",
        fix="Run publish (the publish workflow does on a promotion, or watch / webhook serve).",
        example="model_specs/churn.yaml:2:7: warning D007 version 3 of 'churn' is in Production (alias champion); "
                "the catalog shows version 2; publish updates it"),
    "D008": Explanation(
        why="No version is in Production any more (the alias was removed, the stage changed), but the catalog "
            "still shows the model as published.",
        fix="Promote a version again, or let publish apply when_not_in_production (keep, mark or delete).",
        example="model_specs/churn.yaml:5:1: warning D008 no version of 'churn' is in Production any more, but "
                "mlflow_models.churn still shows version 2"),
    "D009": Explanation(
        why="A model mlmeta published has no spec any more (its file was deleted or renamed). Reported only when "
            "every spec is checked: never with PATHS, --changed-since or --select.",
        fix="publish --prune soft-deletes it (publishing a spec for it again restores it); or bring the spec "
            "back.",
        example="D009 published by mlmeta, but no spec documents it any more (last written by mlmeta-bot at "
                "2026-11-30 09:12 UTC); publish --prune soft-deletes it"),
    "D010": Explanation(
        why="The spec (or what it is published from: the registry address, the training-data rules) changed "
            "since the model was last published, so the catalog shows the old text.",
        fix="Run plan to see what would change, then publish.",
        example="model_specs/churn.yaml:2:7: warning D010 the spec changed since it was last published; plan "
                "shows what publish would do"),
    "D011": Explanation(
        why="An edge mlmeta drew is there, but its column-level lineage or its description (what it stands for: "
            "feature source, training data, predictions) differs from what the spec asks for.",
        fix="publish --refresh redraws it.",
        example="model_specs/churn.yaml:7:1: warning D011 lineage from demo_pg.postgres.public.restaurants to "
                "mlflow_models.churn differs from the spec's (its column-level mapping or what it stands for); "
                "publish --refresh redraws it"),
    "D012": Explanation(
        why="mlmeta drew an edge that the spec no longer asks for (a source or output was removed from it).",
        fix="publish removes it.",
        example="model_specs/churn.yaml:7:1: warning D012 lineage from demo_pg.postgres.public.users to "
                "mlflow_models.churn was drawn by mlmeta, but the spec no longer asks for it; publish removes it"),
}


def known(text: str) -> str:
    """The code a user typed, as the table spells it; a UsageError with a "did you mean" when there is none."""
    from mlmeta.errors import UsageError

    code = lookup(text)
    if code is None:
        close = suggestion(text)
        raise UsageError(f"unknown finding code {text!r}" + (f"; did you mean {close}?" if close else ""),
                         hint="mlmeta explain lists every code")
    return code


def lookup(text: str) -> str | None:
    """The code a user typed, as the table spells it (r2, R02 and r002 are R002); None when there is none."""
    code = text.strip().upper()
    padded = re.fullmatch(r"([A-Z])0*(\d{1,3})", code)
    if padded:
        code = f"{padded.group(1)}{int(padded.group(2)):03d}"
    return code if code in CODES else None


def suggestion(text: str) -> str | None:
    """The code a mistyped one likely meant: a letter O typed for a zero (SO01), else the closest."""
    typed = text.strip().upper()
    zeroed = lookup(typed[:1] + typed[1:].replace("O", "0"))
    if zeroed:
        return zeroed
    close = difflib.get_close_matches(typed, list(CODES), n=1, cutoff=0.5)
    return close[0] if close else None


def explain(code: str) -> dict[str, Any]:
    """Everything said about a code (one the table holds), as data."""
    explanation = EXPLANATIONS[code]
    return {"code": code, "kind": KINDS.get(code[0], ""), "meaning": CODES[code], "why": explanation.why,
            "fix": explanation.fix, "example": explanation.example}


def listing() -> dict[str, Any]:
    """Every code with its one-line meaning (``mlmeta explain`` without a code)."""
    return {"codes": [{"code": code, "meaning": meaning} for code, meaning in CODES.items()]}


def as_text(said: dict[str, Any]) -> str:
    """``explain`` or ``listing`` as the terminal shows it."""
    if "codes" in said:
        return "\n".join(f"{item['code']}  {item['meaning']}" for item in said["codes"])
    example = "\n".join(f"  {line}" for line in said["example"].splitlines())
    return (f"{said['code']}: {said['meaning']}\nkind: {said['kind']}\n\nwhy: {said['why']}\n\nfix: {said['fix']}\n\n"
            f"example:\n{example}")
