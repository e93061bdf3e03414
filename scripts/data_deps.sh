#!/usr/bin/env bash
# Image sources for the synthetic training data (octopus-ros data synth; config/train/objects.yaml).
# Idempotent: installs only what is missing. Each source is optional for the build (objects keep their
# other images), but the default dataset and docs/dataset.md were made with all three:
#   Debian tuxpaint-stamps-default   /usr/share/tuxpaint/stamps   photo-like stamps + EN/zh_CN captions (GPL-2+)
#   Debian openclipart-png           /usr/share/openclipart/png   clip art (public domain; ~131 MB download)
#   npm emoji-datasource-google      <repo>/.cache/npm/node_modules/emoji-datasource-google  (Noto Emoji PNGs,
#                                    Apache-2.0; data MIT), pinned
# and, for the object lexicon (octopus-ros train lexicon; config/train/lexicon.yaml pins its sha256):
#   Debian wordnet-base              /usr/share/wordnet/data.noun  WordNet 3.0 nouns: ImageNet class hypernyms
#                                    (WordNet licence)
# Environment: OCTOPUS_SKIP_APT=1 skips the Debian packages; OCTOPUS_SKIP_NPM=1 skips npm.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EMOJI_PIN="emoji-datasource-google@16.0.0"
NPM_PREFIX="$REPO/.cache/npm"

log() { printf '[data-deps] %s\n' "$*"; }

if [ -z "${OCTOPUS_SKIP_APT:-}" ] && command -v dpkg-query >/dev/null; then
  missing=()
  for pkg in tuxpaint-stamps-default openclipart-png wordnet-base; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" || {
      $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
  else
    log "Debian packages present"
  fi
fi

if [ -z "${OCTOPUS_SKIP_NPM:-}" ]; then
  installed="$NPM_PREFIX/node_modules/emoji-datasource-google/package.json"
  want="${EMOJI_PIN##*@}"
  have=""
  [ -f "$installed" ] && have="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$installed" | head -1)"
  if [ "$have" = "$want" ]; then
    log "$EMOJI_PIN present"
  elif command -v npm >/dev/null; then
    log "installing $EMOJI_PIN into $NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --no-save "$EMOJI_PIN"
  else
    log "npm not found: emoji images skipped (the build still works with the other sources)"
  fi
fi
