#!/bin/sh
# The peer of `bottle start` in bench/bringup.bench.ts: the same two networks and the same two
# containers (same images, same hardening flags), made with the docker CLI and nothing else:
# no state dir, no CA, no policy, no mounts, no readiness wait, no provisioning.
#   bare.sh up|down NAME SIDECARS_IMAGE AGENT_IMAGE
set -eu
action=$1 name=$2 sidecars=$3 agent=$4
label="dev.bottle.bench=bringup"
case "$action" in
up)
  docker network create --internal --label "$label" -o com.docker.network.bridge.inhibit_ipv4=true "$name-int" >/dev/null
  docker network create --label "$label" "$name-ext" >/dev/null
  docker create --name "$name-sidecars" --label "$label" --network "$name-int" \
    --network-alias gateway --network-alias git-gate --network-alias supervise \
    --cap-drop ALL --security-opt no-new-privileges "$sidecars" >/dev/null
  docker network connect "$name-ext" "$name-sidecars"
  docker start "$name-sidecars" >/dev/null
  docker run -d --name "$name-agent" --label "$label" --network "$name-int" \
    --cap-drop ALL --security-opt no-new-privileges --user node "$agent" sleep infinity >/dev/null
  ;;
down)
  docker rm -f "$name-agent" "$name-sidecars" >/dev/null 2>&1 || true
  docker network rm "$name-int" "$name-ext" >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: bare.sh up|down NAME SIDECARS_IMAGE AGENT_IMAGE" >&2
  exit 2
  ;;
esac
