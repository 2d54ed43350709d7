# Project image for ingest, the backup job and the Airflow services (docker-compose.yml).
#
# 1. Airflow and the providers the deployment needs, with Airflow's constraints file (the
#    reproducible, tested dependency set of that Airflow release and Python version).
# 2. The project, with Airflow pinned to the same version (Airflow's advice for adding your own
#    packages on top of a constrained install). config/, expectations/ and dags/ are package
#    data (ecm/_data/, see setup.py): nothing is read from a source folder at run time.
FROM python:3.11-slim-bookworm

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
ARG AIRFLOW_CONSTRAINTS=https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow TZ=Asia/Shanghai

# WeasyPrint (PDF reports) needs pango; CJK fonts for Chinese reports and charts;
# `ecm backup`: influxdb (`influxd backup/restore -portable`) and pg_dump/pg_restore of the
# compose PostgreSQL's major version (16; Debian 12's own client is 15, and pg_dump refuses a
# newer server), from the PostgreSQL project's Debian repository.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk tzdata \
      influxdb influxdb-client ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-client-16 \
 && rm -rf /var/lib/apt/lists/*

RUN pip install "apache-airflow==${AIRFLOW_VERSION}" \
      apache-airflow-providers-fab apache-airflow-providers-postgres apache-airflow-providers-smtp \
      apache-airflow-providers-celery \
      psycopg2-binary \
      --constraint "${AIRFLOW_CONSTRAINTS}"

WORKDIR /tmp/ecm-src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY ecm ecm
COPY ingest ingest
COPY sim_devices sim_devices
COPY config config
COPY expectations expectations
COPY dags dags
RUN pip install . "apache-airflow==${AIRFLOW_VERSION}" \
 && python -c "from ecm.settings import resource_dir as r; [r(n) for n in ('config', 'expectations', 'dags')]" \
 && cd / && rm -rf /tmp/ecm-src

# uid 50000 as in Airflow's images; the logs folder exists and is owned by it, so a fresh named
# volume mounted there starts writable (the ecm-init service also fixes existing volumes).
RUN useradd --uid 50000 --gid 0 --create-home --shell /usr/sbin/nologin ecm \
 && mkdir -p /var/lib/ecm /opt/airflow/logs \
 && chown -R 50000:0 /var/lib/ecm /opt/airflow
WORKDIR /var/lib/ecm
USER 50000
CMD ["ecm", "--help"]
