# Project image for ingest, sim and the Airflow services (docker-compose.yml).
# Source lives in /opt/ecm (config/, dags/, expectations/ are read from there via ECM_* paths).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow TZ=Asia/Shanghai

# WeasyPrint (PDF reports) needs pango; CJK fonts for Chinese reports and charts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk tzdata \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ecm
COPY pyproject.toml README.md ./
COPY ecm ecm
COPY ingest ingest
COPY sim_devices sim_devices
RUN pip install . "apache-airflow-providers-postgres" "psycopg2-binary"
COPY config config
COPY dags dags
COPY expectations expectations

RUN useradd --uid 50000 --create-home --shell /usr/sbin/nologin ecm \
 && mkdir -p /var/lib/ecm /opt/airflow \
 && chown -R ecm:ecm /var/lib/ecm /opt/airflow
USER ecm
CMD ["ecm", "--help"]
