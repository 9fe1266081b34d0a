#!/usr/bin/env bash
# Installs every Debian package shmchan needs on a fresh Debian bookworm machine.
# Idempotent: when every package is already installed it changes nothing and
# does not touch the network. Must run as root (or with passwordless sudo).
set -euo pipefail

# Why each package is here:
#   bazel-bootstrap     the build (Debian's offline Bazel 4.2.3, WORKSPACE mode)
#   bazel-rules-java    rules_java, which Bazel 4.2 loads even for C-only trees
#   clang, lld          the compiler for every config (sanitizers, libFuzzer)
#   libclang-rt-14-dev  ASan/UBSan/TSan/LSan and libFuzzer runtimes for clang 14
#   llvm-14             llvm-profdata-14 and llvm-cov-14 for ci/coverage.sh
#                       (only a recommendation of clang-14, and this script
#                       installs without recommendations)
#   libcmocka-dev       unit-test framework
#   afl++               second fuzzing engine (ci/fuzz.sh)
#   spin                model checker for the protocol model
#   gnuplot-nox         benchmark plots
#   util-linux, procps  ipcs/ipcrm/unshare and sysctl used by tests and docs
#   python3             ci/coverage.sh reads llvm-cov's JSON summary with it;
#                       .clusterfuzzlite/build.sh reads fuzz/harnesses.bzl; the
#                       e2e ctl_test parses shmchanctl --json (/usr/bin/python3)
#   zip, unzip          ci/oss_fuzz.sh: .clusterfuzzlite/build.sh zips the seed
#                       corpora (<fuzzer>_seed_corpus.zip), the check unzips them
#   frama-c-base        EVA and WP proofs of the pure layers (proofs/)
#   why3, z3            WP's prover bridge and the SMT solver it calls (proofs/)
#   patch               applies the proof mutants to a scratch copy of src/
PACKAGES=(
  bazel-bootstrap
  bazel-rules-java
  clang
  lld
  libclang-rt-14-dev
  llvm-14
  libcmocka-dev
  afl++
  spin
  gnuplot-nox
  util-linux
  procps
  python3
  zip
  unzip
  frama-c-base
  why3
  z3
  patch
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci/setup.sh: all ${#PACKAGES[@]} packages already installed; nothing to do"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "ci/setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "ci/setup.sh: done"
