#!/bin/sh
# sitegate-release: which installed version runs, and the automatic rollback.
#   mark-good       ExecStartPost (after READY=1): the current version started, keep it
#   check-rollback  ExecStopPost: a run of a version not yet marked good failed -> back to previous
#   rollback        by hand: back to the previous version
#   status          current, previous, pending
# systemd passes SERVICE_RESULT (success, exit-code, signal, timeout, watchdog…) to ExecStopPost.
set -eu
LIB=${SITEGATE_LIBDIR:-@LIBDIR@}
cur=$LIB/current
say() { printf 'sitegate-release: %s\n' "$*" >&2; }
version_of() { [ -L "$1" ] && basename "$(readlink "$1")" || echo none; }

switch_to_previous() {
  [ -L "$LIB/previous" ] || { say "no previous version to go back to"; return 1; }
  bad=$(version_of "$cur")
  good=$(readlink "$LIB/previous")
  touch "$LIB/versions/$bad/.bad"
  rm -f "$LIB/versions/$bad/.pending"
  ln -sfn "$good" "$LIB/current.new" && mv -Tf "$LIB/current.new" "$cur"
  rm -f "$LIB/previous"
  say "rolled back from $bad to $(basename "$good")"
}

case "${1:-status}" in
  mark-good)
    if [ -f "$cur/.pending" ]; then rm -f "$cur/.pending"; say "version $(version_of "$cur") started: marked good"; fi ;;
  check-rollback)
    result=${SERVICE_RESULT:-success}
    if [ -f "$cur/.pending" ] && [ "$result" != success ]; then
      say "version $(version_of "$cur") failed before it was ready ($result, ${EXIT_CODE:-?} ${EXIT_STATUS:-?})"
      switch_to_previous
    fi ;;
  rollback) switch_to_previous ;;
  status)
    echo "current:  $(version_of "$cur")$( [ -f "$cur/.pending" ] && echo ' (pending: not yet started)' || true)"
    echo "previous: $(version_of "$LIB/previous")" ;;
  *) say "usage: sitegate-release mark-good|check-rollback|rollback|status"; exit 2 ;;
esac
