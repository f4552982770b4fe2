#!/usr/bin/env bash
# Builds the Debian 12 root the machine tests boot with systemd-nspawn: what a
# Raspberry Pi OS Lite has that matters to dev2mqtt (systemd as PID 1, D-Bus,
# sshd, Python for Ansible, sudo, a user "pi" who may sudo), plus this machine's
# Node and npm (Debian 12's nodejs is 18; the agent needs 20), npm set to
# install from a cache only. Run by test/helpers/debian-root.ts under flock:
#
#   build-root.sh DIR MIRROR STAMP
#
# Builds into DIR.tmp and renames it to DIR when complete, so a DIR that
# exists is whole. The Debian packages come from MIRROR (the one apt uses
# here); nothing else is downloaded.
set -euo pipefail
dir=$1 mirror=$2 stamp=$3
tmp=$dir.tmp
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"

echo "debian-root: debootstrap bookworm into $tmp (from $mirror)" >&2
if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,openssh-server,python3,sudo \
  bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1; then
  tail -n 20 "$tmp.log" >&2
  exit 1
fi

# This machine's Node and npm, where Debian's nodejs package would put them.
cp "$(command -v node)" "$tmp/usr/bin/node"
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
mkdir -p "$tmp/usr/lib/node_modules"
cp -a "$npm_dir" "$tmp/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/usr/bin/npx"
# npm's global config for a node in /usr/bin: installs come from the cache each container mounts there.
mkdir -p "$tmp/usr/etc"
printf '%s\n' offline=true cache=/var/cache/dev2mqtt-npm audit=false fund=false update-notifier=false >"$tmp/usr/etc/npmrc"

# The user Ansible logs in as, as on a Pi.
chroot "$tmp" useradd --create-home --shell /bin/bash pi
echo 'pi ALL=(ALL) NOPASSWD:ALL' >"$tmp/etc/sudoers.d/pi"
chmod 0440 "$tmp/etc/sudoers.d/pi"
printf '%s\n' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UseDNS no' >"$tmp/etc/ssh/sshd_config.d/dev2mqtt-test.conf"

# Each boot gets its own machine id; nothing runs on a timer that would reach for the network.
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
for t in apt-daily.timer apt-daily-upgrade.timer; do ln -sf /dev/null "$tmp/etc/systemd/system/$t"; done
rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*

echo "$stamp" >"$tmp/.dev2mqtt-root"
rm -f "$tmp.log"
mv "$tmp" "$dir"
echo "debian-root: $dir ready" >&2
