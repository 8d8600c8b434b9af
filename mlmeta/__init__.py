"""mlmeta: ML model documentation as code, published to OpenMetadata with facts from the model registry
(MLflow or Kubeflow Model Registry).

The modules at this level are the kernel every tier may import; each package is a tier above it
(docs/contributing.md maps them, from each module's docstring).
"""

__version__ = "0.1.0"
