# ecm-init (docker-compose.yml): runs once per `docker compose up`, as root, before every
# project service. Idempotent.
set -eu
SVC_UID=50000
# 1. folders the services write, owned by the service user (a fresh named volume is root-owned)
mkdir -p /var/lib/ecm/config /var/lib/ecm/reports /opt/airflow/logs /backups
# 2. the district registry is state: seeded from the installed package once, then kept
if [ ! -f "$ECM_DISTRICT_FILE" ]; then
  python - <<'PY'
import os, shutil
from ecm.settings import resource_dir
shutil.copyfile(resource_dir("config") / "district.yaml", os.environ["ECM_DISTRICT_FILE"])
PY
  echo "ecm-init: seeded $ECM_DISTRICT_FILE from the package"
fi
# 3. ownership (only what is not already right: cheap on a large reports folder)
for d in /var/lib/ecm /opt/airflow/logs /backups; do
  find "$d" -xdev \( ! -uid "$SVC_UID" -o ! -gid 0 \) -exec chown "$SVC_UID:0" {} +
done
echo "ecm-init: volumes ready"
# 4. InfluxDB retention policies and shard durations (admin credentials from the environment)
ecm retention apply
# 5. Grafana alerting: the generated rules plus contact points and policies for the channels this
#    site configured (ALERT_* in .env; the file holds ${VAR} references, not the addresses)
mkdir -p /grafana-alerting
rm -f /grafana-alerting/*.yaml
cp /opt/ecm-grafana-rules/ecm-alerts.yaml /grafana-alerting/
python -m ecm.alerting /grafana-alerting \
  $([ -n "${ALERT_EMAIL_TO:-}" ] && echo --email) \
  $([ -n "${ALERT_WECOM_WEBHOOK_URL:-}" ] && echo --wecom) \
  $([ -n "${ALERT_DINGTALK_WEBHOOK_URL:-}" ] && echo --dingtalk)
chmod 0644 /grafana-alerting/*.yaml
