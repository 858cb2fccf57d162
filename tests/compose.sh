#!/usr/bin/env bash
#/ Checks docker/docker-compose.yml without running it (CI here has no Docker engine):
#/ `docker compose config --quiet` where the compose plugin exists; otherwise the YAML is parsed
#/ and checked: the six services of the pipeline exist, every build names a Dockerfile and every
#/ file a Dockerfile COPYs exists in the repository, every depends_on names a service of the file,
#/ published ports bind 127.0.0.1 only, the services get the environment names of docs/design.md,
#/ and no password is written in the file (each *PASSWORD is a required ${VAR:?…} substitution).
#/ Then every @NAME@ placeholder of the Connect files docker/connect/Dockerfile copies is one that
#/ docker/connect/entrypoint.sh fills in.
#/
#/ Usage: tests/compose.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" compose-test "$@"
file=docker/docker-compose.yml

if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
  docker compose -f "$file" --profile tools config --quiet
  log "ok: docker compose config accepts $file"
fi

py=python3
"$py" -c 'import yaml' 2>/dev/null || py="$(bench_venv yaml 'PyYAML==6.0.2')"
"$py" - "$file" <<'PY'
import os, re, sys, yaml

path = sys.argv[1]
doc = yaml.safe_load(open(path))
services = doc["services"]
errors = []
def check(ok, what):
    if not ok:
        errors.append(what)

for name in ["postgres", "kafka", "connect", "mongodb", "processor", "verifier"]:
    check(name in services, f"service {name} is missing")
check(services.get("mongodb", {}).get("image", "").startswith("mongo:7"), "mongodb must run MongoDB 7")
check("wal_level=logical" in services["postgres"].get("command", []), "postgres must run with wal_level=logical")

root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
for name, svc in services.items():
    build = svc.get("build")
    if build:
        context = os.path.normpath(os.path.join(os.path.dirname(path), build["context"]))
        dockerfile = os.path.join(context, build["dockerfile"])
        check(os.path.isfile(dockerfile), f"{name}: Dockerfile {dockerfile} does not exist")
        if os.path.isfile(dockerfile):
            for line in open(dockerfile):
                m = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
                if m:
                    for src in m.group(1).split():
                        check(src == "." or os.path.exists(os.path.join(context, src)),
                              f"{name}: {dockerfile} copies {src}, which does not exist")
    else:
        check("image" in svc, f"{name}: neither image nor build")
    deps = svc.get("depends_on", {})
    for dep in (deps if isinstance(deps, list) else deps.keys()):
        check(dep in services, f"{name}: depends on unknown service {dep}")
    for port in svc.get("ports", []):
        check(str(port).startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1")

env = lambda s: services[s].get("environment", {})
for s in ["processor", "verifier"]:
    check(env(s).get("KAFKA_BOOTSTRAP") == "kafka:9092", f"{s}: KAFKA_BOOTSTRAP must be kafka:9092")
    check(str(env(s).get("MONGODB_URI", "")).endswith("/activity"), f"{s}: MONGODB_URI must name database activity")
    check(env(s).get("CDC_TOPIC") == "postgres.activity.event_outbox", f"{s}: CDC_TOPIC")
    check(env(s).get("PROCESSOR_GROUP") == "event-processor-group", f"{s}: PROCESSOR_GROUP")
check(env("verifier").get("PGHOST") == "postgres", "verifier: PGHOST must be postgres")
for name in services:
    for var, value in env(name).items():
        if var.endswith("PASSWORD"):
            check(re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)) is not None,
                  f"{name}: {var} holds a value instead of a required ${{VAR:?…}} substitution")

if errors:
    print("\n".join(f"{path}: {e}" for e in errors), file=sys.stderr)
    sys.exit(1)
print(f"[compose-test] ok: {path}: {len(services)} services, every build file present, dependencies and ports sound", file=sys.stderr)
PY

# The Connect image renders stack/config's templates with its own entrypoint: a placeholder it
# does not know would reach Debezium as a literal @NAME@.
entrypoint=docker/connect/entrypoint.sh
confs=()
read -ra confs < <(sed -n 's#^COPY \(stack/config/[^ ]*\.properties\( stack/config/[^ ]*\.properties\)*\) .*#\1#p' docker/connect/Dockerfile)
[ "${#confs[@]}" -gt 0 ] || fail "docker/connect/Dockerfile copies no stack/config/*.properties (the check below reads that COPY line)"
for conf in "${confs[@]}"; do
  while read -r name; do
    grep -qF "s#$name#" "$entrypoint" || fail "$conf has the placeholder $name, which $entrypoint does not fill in"
  done < <(grep -o '@[A-Z_]*@' "$conf" | sort -u)
done
log "ok: every placeholder of the Connect image's config files is filled in by $entrypoint"
