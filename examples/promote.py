"""Promote a registered model version to Production, the way your registry does it.

    MLFLOW_TRACKING_URI=... python examples/promote.py delivery_time 3            # alias champion
    MLFLOW_TRACKING_URI=... python examples/promote.py delivery_time 3 --stage    # classic stage

Aliases are MLflow's current way (``champion`` by convention; Databricks Unity Catalog knows
only aliases); stages (``Production``) are deprecated since MLflow 2.9 but still work and many
registries still use them. mlmeta recognises both.
"""

from __future__ import annotations

import argparse
import os
import warnings

from mlflow import MlflowClient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("registered_model")
    parser.add_argument("version")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--stage", action="store_true", help="move the version to the Production stage instead")
    options = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("set MLFLOW_TRACKING_URI to your MLflow tracking server")
    client = MlflowClient()
    if options.stage:
        with warnings.catch_warnings():  # stages are deprecated; that is the point of this flag
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage(options.registered_model, options.version, "Production",
                                                  archive_existing_versions=True)
        print(f"{options.registered_model} version {options.version} -> stage Production")
    else:
        client.set_registered_model_alias(options.registered_model, options.alias, options.version)
        print(f"{options.registered_model} version {options.version} -> alias {options.alias}")


if __name__ == "__main__":
    main()
