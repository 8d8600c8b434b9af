"""Model registries behind one interface: the table of registries, MLflow, Kubeflow Model Registry and its Production rules."""
