#!/usr/bin/env bash
# Installs or updates dev2mqtt on Raspberry Pi OS (arm64 and armhf) and other
# Debian-based systems, as a hardened systemd service. Idempotent: a second run
# changes nothing and says so; a run with a new tarball or config updates just
# that and restarts the service.
#
#   sudo ./install.sh --tarball dev2mqtt-0.2.0.tgz [--config my.json] [--node-id pi-17]
#                     [--groups ground-floor,leds] [--mqtt-url mqtt://broker.lan:1883]
#
# Steps: Node.js from the distribution when absent (20 or later is required);
# system groups gpio, dialout, tape and the user dev2mqtt; the agent from the
# npm tarball (npm ci into /usr/local/lib/dev2mqtt, pinned by the tarball's
# shrinkwrap; /usr/local/bin/dev2mqtt); /etc/dev2mqtt/config.json (the
# given one, else what `dev2mqtt probe` finds; an existing one is kept);
# the udev rules for LED attributes; the unit and its device drop-in; enable
# and (re)start. --root DIR installs into an image or a test tree instead of
# this system (no service start, no udev reload).
set -euo pipefail

ROOT=/
TARBALL=""
CONFIG_SRC=""
NODE_ID=""
NODE_GROUPS=""
MQTT_URL=""
START=1
FORCE=0
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHANGED=()

say() { printf 'dev2mqtt-install: %s\n' "$*"; }
die() {
  printf 'dev2mqtt-install: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --tarball FILE     the npm tarball (npm pack); default: the newest ./dev2mqtt-*.tgz
  --config FILE      install this config as /etc/dev2mqtt/config.json (replacing the old one)
  --node-id ID       set node.id in the installed config
  --groups A,B       set node.groups
  --mqtt-url URL     set mqtt.url
  --no-start         install and enable, but do not (re)start the service
  --force            reinstall the agent even when that version is installed
  --root DIR         install below DIR (an image, a test tree) instead of /
EOF
}

while (($#)); do
  case $1 in
    --tarball) TARBALL=${2:?--tarball needs a file}; shift 2 ;;
    --config) CONFIG_SRC=${2:?--config needs a file}; shift 2 ;;
    --node-id) NODE_ID=${2:?--node-id needs an id}; shift 2 ;;
    --groups) NODE_GROUPS=${2?--groups needs a list}; shift 2 ;;
    --mqtt-url) MQTT_URL=${2:?--mqtt-url needs a URL}; shift 2 ;;
    --no-start) START=0; shift ;;
    --force) FORCE=1; shift ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "run me as root (sudo $0 …): I create a user and install a service"
ROOT=$(cd "$ROOT" && pwd)
# A path inside the target root.
in_root() { printf '%s%s' "${ROOT%/}" "$1"; }
ROOT_ARGS=()
[[ $ROOT == / ]] || ROOT_ARGS=(--root "$ROOT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

case $(dpkg --print-architecture 2>/dev/null || uname -m) in
  arm64 | aarch64 | armhf | armv7l | armv6l | amd64 | x86_64) ;;
  *) say "warning: $(uname -m) is not a tested architecture (arm64, armhf, amd64)" ;;
esac

# --- Node.js ----------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  [[ $ROOT == / ]] || die "node is missing: install nodejs in the image first"
  say "installing nodejs and npm from the distribution"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  CHANGED+=("nodejs")
fi
command -v npm >/dev/null 2>&1 || die "npm is missing: apt-get install npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js $(node --version) is too old; dev2mqtt needs 20 or later (Raspberry Pi OS bookworm ships 18: use trixie's nodejs, or NodeSource's nodejs 20/22 packages)"

# --- groups and the user ------------------------------------------------------
has_entry() { # has_entry group|passwd NAME
  if [[ $ROOT == / ]]; then getent "$1" "$2" >/dev/null; else grep -q "^$2:" "$(in_root "/etc/$1")"; fi
}
in_group() { # in_group GROUP USER
  grep -Eq "^$1:[^:]*:[^:]*:(.*,)?$2(,|$)" "$(in_root /etc/group)"
}
for g in dev2mqtt gpio dialout tape; do
  if ! has_entry group "$g"; then
    groupadd "${ROOT_ARGS[@]}" --system "$g"
    CHANGED+=("group $g")
  fi
done
if ! has_entry passwd dev2mqtt; then
  useradd "${ROOT_ARGS[@]}" --system --gid dev2mqtt --groups gpio,dialout,tape --home-dir /var/lib/dev2mqtt \
    --no-create-home --shell /usr/sbin/nologin --comment "dev2mqtt agent" dev2mqtt
  CHANGED+=("user dev2mqtt")
fi
for g in gpio dialout tape; do
  if ! in_group "$g" dev2mqtt; then
    usermod "${ROOT_ARGS[@]}" --append --groups "$g" dev2mqtt
    CHANGED+=("dev2mqtt in $g")
  fi
done
GID=$(awk -F: '$1 == "dev2mqtt" { print $3 }' "$(in_root /etc/group)")

# --- the agent ----------------------------------------------------------------
if [[ -z $TARBALL ]]; then
  TARBALL=$(find . -maxdepth 1 -name 'dev2mqtt-*.tgz' 2>/dev/null | sort -V | tail -n 1)
  [[ -n $TARBALL ]] || die "no --tarball given and no ./dev2mqtt-*.tgz here (make one with npm pack)"
fi
[[ -f $TARBALL ]] || die "no such tarball: $TARBALL"
APP=$(in_root /usr/local/lib/dev2mqtt)
BIN=$(in_root /usr/local/bin/dev2mqtt)
want=$(tar -xzOf "$TARBALL" package/package.json | node -e 'let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => console.log(JSON.parse(s).version))')
have=$(node -p 'require(process.argv[1]).version' "$APP/node_modules/dev2mqtt/package.json" 2>/dev/null || true)
if [[ $have != "$want" || $FORCE == 1 ]]; then
  say "installing dev2mqtt $want${have:+ (was $have)}"
  # npm ci from a lockfile made of the tarball's shrinkwrap: every node gets the tested dependency versions.
  node "$HERE/npm-app.cjs" "$TARBALL" "$APP" >/dev/null
  (cd "$APP" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  install -d "$(dirname "$BIN")"
  ln -sfn ../lib/dev2mqtt/node_modules/.bin/dev2mqtt "$BIN"
  CHANGED+=("dev2mqtt $want")
fi
"$BIN" --version >/dev/null || die "$BIN does not run"

# --- files --------------------------------------------------------------------
# install_if_changed SRC DST MODE GROUP: 0 (and a copy) when DST differs, 1 when it is already that.
install_if_changed() {
  local src=$1 dst=$2 mode=$3 group=$4
  if [[ -f $dst ]] && cmp -s "$src" "$dst"; then
    chmod "$mode" "$dst"
    chown "0:$group" "$dst"
    return 1
  fi
  install -D -m "$mode" -o 0 -g "$group" "$src" "$dst"
}

CONF=$(in_root /etc/dev2mqtt/config.json)
install -d -m 0750 -o 0 -g "$GID" "$(in_root /etc/dev2mqtt)"
# The config as it should be: the file given, else the one installed (probed on a first install),
# with the keys given on the command line; installed once, so that a repeated run changes nothing.
WANT="$TMP/config.json"
if [[ -n $CONFIG_SRC ]]; then
  cp "$CONFIG_SRC" "$WANT"; WHAT="config"
elif [[ -e $CONF ]]; then
  cp "$CONF" "$WANT"; WHAT="config"
else
  "$BIN" probe --output "$WANT" >/dev/null; WHAT="config (from dev2mqtt probe)"
fi
if [[ -n $NODE_ID || -n $NODE_GROUPS || -n $MQTT_URL ]]; then
  NODE_ID=$NODE_ID NODE_GROUPS=$NODE_GROUPS MQTT_URL=$MQTT_URL node -e '
    const fs = require("fs");
    const file = process.argv[1];
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    const e = process.env;
    if (e.NODE_ID) (c.node ??= {}).id = e.NODE_ID;
    if (e.NODE_GROUPS) (c.node ??= {}).groups = e.NODE_GROUPS.split(",").map((g) => g.trim()).filter(Boolean);
    if (e.MQTT_URL) (c.mqtt ??= {}).url = e.MQTT_URL;
    fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n");
  ' "$WANT"
  if [[ -e $CONF ]]; then WHAT="config keys"; fi
fi
install_if_changed "$WANT" "$CONF" 0640 "$GID" && CHANGED+=("$WHAT")
"$BIN" check-config --config "$CONF" >/dev/null || die "$CONF is not valid; see: $BIN check-config -c $CONF"

UDEV_RULE=$(in_root /etc/udev/rules.d/99-dev2mqtt.rules)
if install_if_changed "$HERE/udev/99-dev2mqtt.rules" "$UDEV_RULE" 0644 0; then
  CHANGED+=("udev rules")
  if [[ $ROOT == / ]] && command -v udevadm >/dev/null 2>&1; then
    udevadm control --reload
    udevadm trigger --action=add --subsystem-match=leds --subsystem-match=gpio || true
  fi
fi

UNIT=$(in_root /etc/systemd/system/dev2mqtt.service)
service_changed=0
install_if_changed "$HERE/systemd/dev2mqtt.service" "$UNIT" 0644 0 && { CHANGED+=("unit"); service_changed=1; }
"$BIN" systemd --config "$CONF" >"$TMP/10-devices.conf"
install_if_changed "$TMP/10-devices.conf" "$(in_root /etc/systemd/system/dev2mqtt.service.d/10-devices.conf)" 0644 0 &&
  { CHANGED+=("device drop-in"); service_changed=1; }

# --- the service ----------------------------------------------------------------
if [[ $ROOT != / ]]; then
  if [[ $(systemctl --root="$ROOT" is-enabled dev2mqtt.service 2>/dev/null) != enabled ]]; then
    systemctl --root="$ROOT" --quiet enable dev2mqtt.service 2>/dev/null
    CHANGED+=("enabled")
  fi
elif [[ -d /run/systemd/system ]]; then
  ((service_changed)) && systemctl daemon-reload
  if ! systemctl --quiet is-enabled dev2mqtt.service 2>/dev/null; then
    systemctl --quiet enable dev2mqtt.service
    CHANGED+=("enabled")
  fi
  if ((START)); then
    if ((${#CHANGED[@]})); then
      systemctl restart dev2mqtt.service
    elif ! systemctl --quiet is-active dev2mqtt.service; then
      systemctl start dev2mqtt.service
      CHANGED+=("started")
    fi
  fi
else
  say "systemd is not running here: the service is installed but not enabled or started"
fi

if ((${#CHANGED[@]})); then
  summary=$(printf '%s, ' "${CHANGED[@]}")
  say "done: ${summary%, }"
else
  say "nothing to change: dev2mqtt $want, its config, unit and udev rules are up to date"
fi
