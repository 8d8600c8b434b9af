"""``make demo``, and the local services the tests and benchmarks start: a real MLflow server, the
sandbox, a Kafka broker, and misbehaving peers."""
