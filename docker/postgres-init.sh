#!/bin/sh
# First start of the PostgreSQL container: a database and a user for OpenMetadata and for MLflow.
set -eu
psql -v ON_ERROR_STOP=1 -U postgres <<SQL
CREATE USER openmetadata_user WITH PASSWORD '${OPENMETADATA_DB_PASSWORD}';
CREATE DATABASE openmetadata_db OWNER openmetadata_user;
CREATE USER mlflow WITH PASSWORD '${MLFLOW_DB_PASSWORD}';
CREATE DATABASE mlflow_db OWNER mlflow;
SQL
