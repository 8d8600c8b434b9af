"""Shim: ``python -m mlmeta.kubeflow_standin`` is a public command; the stand-in lives in ``mlmeta.standins.kubeflow``."""

from mlmeta.standins.kubeflow import *  # noqa: F401,F403 - re-exported for the public path
from mlmeta.standins.kubeflow import main

if __name__ == "__main__":
    main()
