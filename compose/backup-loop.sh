# backup (docker-compose.yml): one `ecm backup create` a day at BACKUP_AT (Asia/Shanghai), keeping
# the newest BACKUP_KEEP backups in /backups. Runs in the InfluxDB container's network namespace,
# where influxd's RPC service (backup/restore, no auth) listens on loopback only.
set -u
AT="${BACKUP_AT:-02:30}"
KEEP="${BACKUP_KEEP:-14}"
touch /backups/.heartbeat
while true; do
  now=$(date +%s)
  next=$(date -d "today $AT" +%s)
  [ "$next" -le "$now" ] && next=$(date -d "tomorrow $AT" +%s)
  sleep $((next - now))
  dest="/backups/$(date +%Y%m%dT%H%M%S)"
  if ecm backup create "$dest" --include /run/ecm-compose/env; then
    touch /backups/.heartbeat
    # prune: backup folders are named by time, so the oldest sort first
    ls -1d /backups/2*/ 2>/dev/null | head -n -"$KEEP" | xargs -r rm -rf
  else
    echo "backup: FAILED at $(date -Is); the healthcheck turns unhealthy after 26 h without a backup" >&2
    rm -rf "$dest"
  fi
done
