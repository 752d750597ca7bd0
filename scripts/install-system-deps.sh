#!/usr/bin/env bash
# Debian packages the test suite drives for real: Postfix + smtp-sink (log capture), pflogsumm and Sisimai
# (independent oracles), NSD (authoritative DNS on loopback), Chromium (HTML report checks).
set -euo pipefail
need=()
command -v postfix >/dev/null 2>&1 || need+=(postfix)
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || need+=(postfix)
command -v pflogsumm >/dev/null 2>&1 || need+=(pflogsumm)
[ -x /usr/sbin/saslpasswd2 ] || need+=(sasl2-bin libsasl2-modules)
command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || need+=(nsd)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
perl -MSisimai -e1 >/dev/null 2>&1 || need+=(libsisimai-perl)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: need root to install: ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
