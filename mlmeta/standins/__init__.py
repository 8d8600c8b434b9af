"""Stand-ins for servers that cannot run here: the OpenMetadata sandbox and the Kubeflow Model Registry stand-in."""
