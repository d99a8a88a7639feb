#!/bin/bash
# Removes what scripts/install.sh installed. Keeps the data ($STATEDIR/sitegate*), the
# technician's configs in $SYSCONFDIR/sitegate (the .example files go) and the service user.
set -euo pipefail
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-/etc/systemd/system}
SYSCONFDIR=${SYSCONFDIR:-/etc}
STATEDIR=${STATEDIR:-/var/lib}
DTBODIR=${DTBODIR:-/boot/firmware/overlays}
lib=$DESTDIR$PREFIX/lib/sitegate
say() { printf 'uninstall: %s\n' "$*"; }

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now sitegate-gate.service sitegate-hub.service 2>/dev/null || true
fi
if [ -f "$lib/installed-overlays" ]; then
  while read -r o; do [ -n "$o" ] && rm -f "$DESTDIR$DTBODIR/$o"; done < "$lib/installed-overlays"
fi
rm -f "$DESTDIR$UNITDIR/sitegate-gate.service" "$DESTDIR$UNITDIR/sitegate-hub.service" "$DESTDIR$UNITDIR/mosquitto.service.d/sitegate.conf"
rmdir "$DESTDIR$UNITDIR/mosquitto.service.d" 2>/dev/null || true
rm -f "$DESTDIR$PREFIX/bin/sitegate"
rm -rf "$lib"
rm -f "$DESTDIR$SYSCONFDIR/sitegate/gate.yaml.example" "$DESTDIR$SYSCONFDIR/sitegate/hub.yaml.example"
[ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && systemctl daemon-reload || true
say "kept $STATEDIR/sitegate, $STATEDIR/sitegate-hub (journal, roster, hub store), $SYSCONFDIR/sitegate and the user sitegate"
