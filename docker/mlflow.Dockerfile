# The MLflow tracking server of docker-compose.yml: PostgreSQL backend, S3 (MinIO) artifacts.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir "mlflow==3.17.2" "psycopg2-binary>=2.9" "boto3>=1.34" \
 && useradd --create-home --uid 10001 mlflow
USER mlflow
EXPOSE 5000
