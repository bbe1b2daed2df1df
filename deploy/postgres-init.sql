-- MLflow's own database and user beside Temporal's (run once by the postgres image at first start).
CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
