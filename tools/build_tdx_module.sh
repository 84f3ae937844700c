#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build Intel's TDX module (libtdx.so) from your own clones, for `seamemu --module-binary`.
# seamemu ships neither the module nor its sources; this script only runs the module's own
# documented build (intel/tdx-module BUILD.md) on a copy of the tagged sources.
#
#   tools/build_tdx_module.sh --tdx-module DIR --ipp-crypto DIR [--out DIR] [--debug]
#                             [--tag TDX_1.5.01] [--ipp-tag ippcp_2021.7.1]
#                             [--build-date YYYYMMDD] [--build-num N] [--update-version N]
#
#   --tdx-module DIR   a clone of https://github.com/intel/tdx-module (with its tags)
#   --ipp-crypto DIR   a clone of https://github.com/intel/ipp-crypto (with its tags)
#   --out DIR          where the build tree goes (default ./tdx-module-build); the result is
#                      DIR/bin/release/libtdx.so (or bin/debug with --debug)
#   --build-date/--build-num/--update-version
#                      the numbers TDH.SYS.RD reports, to reproduce a release's (BUILD.md,
#                      "Make targets"); by default the build date is today and the others 0
#
# Needs clang, nasm, cmake, make, python3 and git (Debian: clang nasm cmake make python3 git).
# Newer clang than the documented 9.0.0 needs three flags, passed through the Makefile's
# PRODUCTION_FLAGS (appended last to CFLAGS, otherwise empty): -Wno-gnu-folding-constant and
# -Wno-unused-but-set-variable (the build uses -Werror), and -fcommon (headers hold tentative
# definitions; clang 11 and later default to -fno-common).  Measured with clang 14: IPP takes a
# few minutes, the module a few seconds more.
set -euo pipefail

usage() { sed -n '4,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "build_tdx_module.sh: $*" >&2; exit 2; }

TDX=""; IPP=""; OUT="$PWD/tdx-module-build"; TAG="TDX_1.5.01"; IPP_TAG="ippcp_2021.7.1"
KIND="RELEASE"; EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tdx-module) TDX="${2:?}"; shift 2 ;;
        --ipp-crypto) IPP="${2:?}"; shift 2 ;;
        --out) OUT="${2:?}"; shift 2 ;;
        --tag) TAG="${2:?}"; shift 2 ;;
        --ipp-tag) IPP_TAG="${2:?}"; shift 2 ;;
        --debug) KIND="DEBUG"; shift ;;
        --build-date) EXTRA+=("TDX_MODULE_BUILD_DATE=${2:?}"); shift 2 ;;
        --build-num) EXTRA+=("TDX_MODULE_BUILD_NUM=${2:?}"); shift 2 ;;
        --update-version) EXTRA+=("TDX_MODULE_UPDATE_VER=${2:?}"); shift 2 ;;
        -h|--help) usage ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ -n "$TDX" ] && [ -n "$IPP" ] || die "--tdx-module DIR and --ipp-crypto DIR are required (see --help)"
for tool in git make cmake clang nasm python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
git -C "$TDX" rev-parse -q --verify "$TAG^{commit}" >/dev/null || die "$TDX has no tag $TAG"
git -C "$IPP" rev-parse -q --verify "$IPP_TAG^{commit}" >/dev/null || die "$IPP has no tag $IPP_TAG"

# A clean copy of the tagged trees: the module expects IPP under libs/ipp/ipp-crypto-<tag>.
rm -rf "$OUT"
mkdir -p "$OUT/libs/ipp/ipp-crypto-$IPP_TAG"
git -C "$TDX" archive "$TAG" | tar -x -C "$OUT"
git -C "$IPP" archive "$IPP_TAG" | tar -x -C "$OUT/libs/ipp/ipp-crypto-$IPP_TAG"
cd "$OUT"

flags="-Wno-gnu-folding-constant -Wno-unused-but-set-variable -fcommon"
# DO_NOT_STRIP: a release build is stripped otherwise, and seamemu places the module by its
# symbols (it has no sigstruct).
if [ "$KIND" = RELEASE ]; then mode=(RELEASE=1 DO_NOT_STRIP=1); dir=release; else mode=(); dir=debug; fi
# IPP first, with the Makefile's own rule (src_defs.mk builds it as RELEASE in both flavours):
# in a parallel build the module's objects would otherwise compile before IPP's headers exist.
ipp_lib="$OUT/libs/ipp/ipp-crypto-$IPP_TAG/_build/.build/RELEASE/lib/libippcp_s_y8.a"
make "${mode[@]}" "$ipp_lib"
make "${mode[@]}" -j"$(nproc)" PRODUCTION_FLAGS="$flags" "${EXTRA[@]}"
[ -f "bin/$dir/libtdx.so" ] || die "the build finished without bin/$dir/libtdx.so"
echo "built $OUT/bin/$dir/libtdx.so"
echo "run it: seamemu boot --platform small --module-binary $OUT/bin/$dir/libtdx.so"
