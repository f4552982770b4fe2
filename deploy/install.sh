#!/usr/bin/env bash
# Installs, updates or removes dev2mqtt on Raspberry Pi OS (arm64 and armhf)
# and other Debian-based systems, as a hardened systemd service. Idempotent: a
# second run changes nothing and says so; a run with a new tarball or config
# updates just that and restarts the service once.
#
#   sudo ./install.sh --tarball dev2mqtt-0.2.0.tgz [--config my.json] [--node-id pi-17]
#                     [--groups ground-floor,leds] [--mqtt-url mqtt://broker.lan:1883]
#   sudo ./install.sh --uninstall        # the service, unit, drop-ins, udev rules, agent, link and journal
#   sudo ./install.sh --purge            # that, and the config, state, user and groups too
#
# Steps: Node.js from the distribution when absent (20 or later is required);
# the agent from the npm tarball, staged beside the installed one (npm ci into
# /usr/local/lib/dev2mqtt.new, pinned by the tarball's shrinkwrap); the config
# (the given one, else the installed one, else what `dev2mqtt probe` finds,
# with the keys given) checked by that agent: a config it refuses stops the
# run before anything on the system changes. Then the system groups gpio,
# dialout, tape and the user dev2mqtt; the staged agent swapped in
# (/usr/local/bin/dev2mqtt); /etc/dev2mqtt/config.json; the udev rules for LED
# attributes; the unit and its device drop-in; enable and (re)start. --root DIR
# installs into an image or a test tree instead of this system (no service
# start, no udev reload).
set -euo pipefail

ROOT=/
TARBALL=""
CONFIG_SRC=""
NODE_ID=""
NODE_GROUPS=""
MQTT_URL=""
ACTION=install
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
  --uninstall        remove the service, unit, drop-ins, udev rules, the agent and its link,
                     and the command journal in /run/dev2mqtt;
                     keep the config, the state, the user and the groups (and say so)
  --purge            --uninstall, and remove the config, the state, the user dev2mqtt and the
                     groups this script created
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
    --uninstall) ACTION=uninstall; shift ;;
    --purge) ACTION=purge; shift ;;
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
APP=$(in_root /usr/local/lib/dev2mqtt)
STAGE=$APP.new
BIN=$(in_root /usr/local/bin/dev2mqtt)
ETC=$(in_root /etc/dev2mqtt)
CONF=$ETC/config.json
# The groups this script created (gpio on a plain Debian, say): --purge removes those and no others.
CREATED_GROUPS=$ETC/groups-created-by-install
UNIT=$(in_root /etc/systemd/system/dev2mqtt.service)
DROPINS=$UNIT.d
UDEV_RULE=$(in_root /etc/udev/rules.d/99-dev2mqtt.rules)
TMP=$(mktemp -d)
# The staged agent goes when the run stops before swapping it in (a refused config, say).
trap 'rm -rf "$TMP" "$STAGE"' EXIT

systemd_running() { [[ $ROOT == / && -d /run/systemd/system ]]; }
udev_running() { [[ $ROOT == / && -S /run/udev/control ]] && command -v udevadm >/dev/null 2>&1; }
has_entry() { # has_entry group|passwd NAME
  if [[ $ROOT == / ]]; then getent "$1" "$2" >/dev/null; else grep -q "^$2:" "$(in_root "/etc/$1")"; fi
}

# --- uninstall and purge ----------------------------------------------------------
uninstall() {
  local removed=() kept=() groups=() state summary
  state=$(in_root /var/lib/dev2mqtt)
  # remove PATH…: deletes what exists of them and notes it.
  remove() {
    for p; do
      if [[ -e $p || -L $p ]]; then
        rm -rf "$p"
        removed+=("$p")
      fi
    done
  }
  if systemd_running; then
    # Not just "active": a service waiting to be restarted (activating, auto-restart) would start again.
    case $(systemctl show -P ActiveState dev2mqtt.service 2>/dev/null) in
      "" | inactive | failed) ;;
      *)
        systemctl stop dev2mqtt.service
        removed+=("the running service")
        ;;
    esac
    if systemctl --quiet is-enabled dev2mqtt.service 2>/dev/null; then systemctl --quiet disable dev2mqtt.service; fi
  elif [[ -e $UNIT ]]; then
    systemctl --root="$ROOT" --quiet disable dev2mqtt.service 2>/dev/null || true
  fi
  # What disable removes, should the unit have been gone already.
  rm -f "$(in_root /etc/systemd/system/multi-user.target.wants/dev2mqtt.service)"
  remove "$UNIT" "$DROPINS"
  # The runtime directory (the command journal; RuntimeDirectoryPreserve keeps it after a stop) is
  # the running service's alone: with the service gone it would stay until the next reboot.
  remove "$(in_root /run/dev2mqtt)"
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed dev2mqtt.service 2>/dev/null || true
  fi
  if [[ -e $UDEV_RULE ]]; then
    remove "$UDEV_RULE"
    if udev_running; then udevadm control --reload; fi
  fi
  # The link only when it is ours: a dev2mqtt installed some other way stays.
  if [[ -L $BIN && $(readlink "$BIN") == ../lib/dev2mqtt/* ]]; then remove "$BIN"; fi
  remove "$APP" "$APP.old" "$STAGE" "$(in_root /var/cache/dev2mqtt)"

  # The group dev2mqtt, and the shared ones (gpio, dialout, tape) only where this script created them.
  for g in dev2mqtt $(grep -sv '^#' "$CREATED_GROUPS"); do if has_entry group "$g"; then groups+=("$g"); fi; done
  if [[ $ACTION == purge ]]; then
    remove "$ETC" "$state"
    if has_entry passwd dev2mqtt; then
      userdel "${ROOT_ARGS[@]}" dev2mqtt
      removed+=("the user dev2mqtt")
    fi
    for g in "${groups[@]}"; do
      if has_entry group "$g"; then
        groupdel "${ROOT_ARGS[@]}" "$g"
        removed+=("the group $g")
      fi
    done
  else
    if [[ -e $ETC ]]; then kept+=("the config in $ETC"); fi
    if [[ -e $state ]]; then kept+=("the state in $state"); fi
    if has_entry passwd dev2mqtt; then kept+=("the user dev2mqtt"); fi
    if ((${#groups[@]})); then kept+=("the group${groups[1]:+s} ${groups[*]}"); fi
  fi

  if ((${#removed[@]})); then
    summary=$(printf '%s, ' "${removed[@]}")
    say "removed: ${summary%, }"
  else
    say "nothing to remove: dev2mqtt is not installed here"
  fi
  if ((${#kept[@]})); then
    summary=$(printf '%s; ' "${kept[@]}")
    say "kept: ${summary%; } (--purge removes them)"
  fi
}

if [[ $ACTION != install ]]; then
  uninstall
  exit 0
fi

case $(dpkg --print-architecture 2>/dev/null || uname -m) in
  arm64 | aarch64 | armhf | armv7l | armv6l | amd64 | x86_64) ;;
  *) say "warning: $(uname -m) is not a tested architecture (arm64, armhf, amd64)" ;;
esac

# --- Node.js ----------------------------------------------------------------
NODE_HOW="Raspberry Pi OS trixie ships 20; on bookworm and older install Node 20 or 22 first (NodeSource's nodejs packages, or nodejs.org's linux-arm64/armv7l tarball), see docs/deploy.md"
if ! command -v node >/dev/null 2>&1; then
  [[ $ROOT == / ]] || die "node is missing: install nodejs in the image first"
  apt-get update -qq
  # Asked before installing: Raspberry Pi OS bookworm offers 18, which would be installed only to be refused.
  # apt speaks the user's language (`Kandidat:` on a German system): read its English.
  offered=$(LC_ALL=C apt-cache policy nodejs 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
  offered=${offered#*:}
  offered_major=${offered%%.*}
  if ! [[ $offered_major =~ ^[0-9]+$ ]] || ((offered_major < 20)); then
    die "Node.js is missing and the distribution offers nodejs ${offered:-none}; dev2mqtt needs 20 or later: $NODE_HOW (nothing was changed)"
  fi
  say "installing nodejs $offered and npm from the distribution"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  CHANGED+=("nodejs")
fi
command -v npm >/dev/null 2>&1 || die "npm is missing: apt-get install npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js $(node --version) is too old; dev2mqtt needs 20 or later: $NODE_HOW"

# --- the agent, staged --------------------------------------------------------------
if [[ -z $TARBALL ]]; then
  TARBALL=$(find . -maxdepth 1 -name 'dev2mqtt-*.tgz' 2>/dev/null | sort -V | tail -n 1)
  [[ -n $TARBALL ]] || die "no --tarball given and no ./dev2mqtt-*.tgz here (make one with npm pack)"
fi
[[ -f $TARBALL ]] || die "no such tarball: $TARBALL"
want=$(tar -xzOf "$TARBALL" package/package.json | node -e 'let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => console.log(JSON.parse(s).version))')
have=$(node -p 'require(process.argv[1]).version' "$APP/node_modules/dev2mqtt/package.json" 2>/dev/null || true)
# The agent that checks the config and writes the drop-in: the one that will run it.
AGENT=$APP
if [[ $have != "$want" || $FORCE == 1 ]]; then
  say "staging dev2mqtt $want${have:+ (installed: $have)}"
  rm -rf "$STAGE"
  # npm ci from a lockfile made of the tarball's shrinkwrap: every node gets the tested dependency versions.
  node "$HERE/npm-app.cjs" "$TARBALL" "$STAGE" >/dev/null
  (cd "$STAGE" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  AGENT=$STAGE
fi
AGENT_BIN=$AGENT/node_modules/.bin/dev2mqtt
"$AGENT_BIN" --version >/dev/null || die "$AGENT_BIN does not run"

# --- the config, checked before anything changes ----------------------------------
# The config as it should be: the file given, else the one installed (probed on a first install),
# with the keys given on the command line; installed once, so that a repeated run changes nothing.
WANT="$TMP/config.json"
if [[ -n $CONFIG_SRC ]]; then
  cp "$CONFIG_SRC" "$WANT"; WHAT="config"
elif [[ -e $CONF ]]; then
  cp "$CONF" "$WANT"; WHAT="config"
else
  "$AGENT_BIN" probe --output "$WANT" >/dev/null; WHAT="config (from dev2mqtt probe)"
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
  ' "$WANT" || die "${CONFIG_SRC:-$CONF} is not JSON: nothing was changed"
  if [[ -e $CONF ]]; then WHAT="config keys"; fi
fi
# Checked where it will live, so relative paths in it (a passwordFile, say) mean what they will mean.
CANDIDATE=$WANT
if [[ -d $ETC ]]; then
  CANDIDATE=$ETC/.config.json.candidate
  trap 'rm -rf "$TMP" "$STAGE" "$CANDIDATE"' EXIT
  cp "$WANT" "$CANDIDATE"
fi
if ! problems=$("$AGENT_BIN" check-config --config "$CANDIDATE" 2>&1); then
  printf '%s\n' "$problems" >&2
  die "${CONFIG_SRC:-$CONF} is not valid for dev2mqtt $want: nothing was changed; see: $BIN check-config -c FILE"
fi
[[ $CANDIDATE == "$WANT" ]] || rm -f "$CANDIDATE"

# --- from here on the system changes: groups and the user ----------------------------
in_group() { # in_group GROUP USER
  grep -Eq "^$1:[^:]*:[^:]*:(.*,)?$2(,|$)" "$(in_root /etc/group)"
}
created=()
for g in dev2mqtt gpio dialout tape; do
  if ! has_entry group "$g"; then
    groupadd "${ROOT_ARGS[@]}" --system "$g"
    CHANGED+=("group $g")
    [[ $g == dev2mqtt ]] || created+=("$g")
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
install -d -m 0750 -o 0 -g "$GID" "$ETC"
if ((${#created[@]})); then
  [[ -f $CREATED_GROUPS ]] || echo "# groups deploy/install.sh created; install.sh --purge removes them" >"$CREATED_GROUPS"
  printf '%s\n' "${created[@]}" >>"$CREATED_GROUPS"
fi

# --- the agent, swapped in -----------------------------------------------------------
if [[ $AGENT == "$STAGE" ]]; then
  # Two renames: the running agent keeps its open files until the restart below.
  rm -rf "$APP.old"
  [[ -e $APP ]] && mv "$APP" "$APP.old"
  mv "$STAGE" "$APP"
  rm -rf "$APP.old"
  CHANGED+=("dev2mqtt $want${have:+ (was $have)}")
fi
install -d "$(dirname "$BIN")"
[[ $(readlink "$BIN" 2>/dev/null) == ../lib/dev2mqtt/node_modules/.bin/dev2mqtt ]] ||
  ln -sfn ../lib/dev2mqtt/node_modules/.bin/dev2mqtt "$BIN"
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

install_if_changed "$WANT" "$CONF" 0640 "$GID" && CHANGED+=("$WHAT")

if install_if_changed "$HERE/udev/99-dev2mqtt.rules" "$UDEV_RULE" 0644 0; then
  CHANGED+=("udev rules")
  if udev_running; then
    udevadm control --reload
    udevadm trigger --action=add --subsystem-match=leds --subsystem-match=gpio || true
  fi
fi

service_changed=0
install_if_changed "$HERE/systemd/dev2mqtt.service" "$UNIT" 0644 0 && { CHANGED+=("unit"); service_changed=1; }
"$BIN" systemd --config "$CONF" >"$TMP/10-devices.conf"
install_if_changed "$TMP/10-devices.conf" "$DROPINS/10-devices.conf" 0644 0 &&
  { CHANGED+=("device drop-in"); service_changed=1; }

# --- the service ----------------------------------------------------------------
if [[ $ROOT != / ]]; then
  if [[ $(systemctl --root="$ROOT" is-enabled dev2mqtt.service 2>/dev/null) != enabled ]]; then
    systemctl --root="$ROOT" --quiet enable dev2mqtt.service 2>/dev/null
    CHANGED+=("enabled")
  fi
elif systemd_running; then
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
