"""mlmeta: ML model documentation as code, published to OpenMetadata with facts from MLflow."""

__version__ = "0.1.0"
