#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Documentation/netlink/specs/vhost-accel.yaml against the kernel's YNL
# tooling (Debian's linux-source-6.12 tarball: tools/net/ynl and the
# Documentation/netlink schemas, extracted into build/ynl/):
#
#   1. the spec validates against its protocol's JSON schema;
#   2. ynl-gen-c.py generates the uAPI header, the kernel policy and the
#      user-space library from it;
#   3. every constant of the generated uAPI header (family name, version,
#      group name, enum values, *_MAX) has the same value in our
#      include/uapi/linux/vhost_accel.h, and the generated user-space code
#      compiles against our header.
#
# Exit 0 when all hold.  YNL_TARBALL=... picks another source tarball.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC=$TOP/Documentation/netlink/specs/vhost-accel.yaml
UAPI=$TOP/include/uapi
TARBALL=${YNL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
OUT=$TOP/build/ynl
SRC=$OUT/src
GEN=$OUT/gen

fail() { echo "ynl-check: $*" >&2; exit 1; }

[[ -f $TARBALL ]] || fail "no $TARBALL (make deps installs linux-source-6.12)"
top=$(basename "$TARBALL" .tar.xz)
if [[ ! -f $SRC/.stamp || $SRC/.stamp -ot $TARBALL ]]; then
	rm -rf "$SRC"
	mkdir -p "$SRC"
	tar -xJf "$TARBALL" -C "$SRC" --strip-components=1 \
		"$top/tools/net/ynl" "$top/Documentation/netlink/genetlink.yaml" \
		"$top/Documentation/netlink/genetlink-c.yaml" \
		"$top/Documentation/netlink/genetlink-legacy.yaml"
	# ynl-gen-c.py finds the tree's root by its MAINTAINERS file
	touch "$SRC/MAINTAINERS" "$SRC/.stamp"
fi
# the tools read the schema beside the spec's directory: work on a copy
mkdir -p "$SRC/Documentation/netlink/specs" "$GEN"
cp "$SPEC" "$SRC/Documentation/netlink/specs/"
spec=$SRC/Documentation/netlink/specs/vhost-accel.yaml
gen_c=$SRC/tools/net/ynl/ynl-gen-c.py
[[ -f $gen_c ]] || fail "no tools/net/ynl/ynl-gen-c.py in $TARBALL"

# 1. the schema
python3 - "$spec" "$SRC/Documentation/netlink" <<'PY'
import sys, yaml, jsonschema
spec = yaml.safe_load(open(sys.argv[1]))
proto = spec.get("protocol", "genetlink")
schema = yaml.safe_load(open(f"{sys.argv[2]}/{proto}.yaml"))
jsonschema.validate(spec, schema)
print(f"spec valid against {proto}.yaml")
PY

# 2. generate
gen() { python3 "$gen_c" --spec "$spec" "$@"; }
gen --mode uapi --header -o "$GEN/uapi.h"
gen --mode kernel --header -o "$GEN/vhost_accel-nl.h"
gen --mode kernel --source -o "$GEN/vhost_accel-nl.c"
gen --mode user --header -o "$GEN/vhost_accel-user.h"
gen --mode user --source -o "$GEN/vhost_accel-user.c"
echo "generated uapi, kernel and user code"

# 3. constants: a program printing each one, built against either header
names=$(sed -nE 's/^#define[[:space:]]+([A-Z_][A-Z0-9_]*)[[:space:]].*/\1/p;
	s/^[[:space:]]+(_*[A-Z][A-Z0-9_]*)(,|[[:space:]]*=.*,?)?$/\1/p' "$GEN/uapi.h" |
	grep -v '^_UAPI_' | sort -u)
[[ $(wc -w <<<"$names") -ge 40 ]] || fail "too few constants in the generated header"
{
	echo '#include <stdio.h>'
	echo '#include HDR'
	echo '#define P(x) _Generic((x), char *: printf("%s \"%s\"\n", #x, (char *)(uintptr_t)(x)), default: printf("%s %lld\n", #x, (long long)(uintptr_t)(x)))'
	echo '#include <stdint.h>'
	echo 'int main(void) {'
	for c in $names; do echo "P($c);"; done
	echo 'return 0; }'
} >"$GEN/consts.c"
cc -O0 -w -Ulinux -I"$UAPI" -DHDR='<linux/vhost_accel.h>' -o "$GEN/consts-ours" "$GEN/consts.c" ||
	fail "a constant of the spec is missing from include/uapi/linux/vhost_accel.h"
cc -O0 -w -Ulinux -I"$UAPI" -DHDR="\"$GEN/uapi.h\"" -o "$GEN/consts-spec" "$GEN/consts.c"
"$GEN/consts-ours" >"$GEN/consts-ours.txt"
"$GEN/consts-spec" >"$GEN/consts-spec.txt"
if ! diff -u "$GEN/consts-spec.txt" "$GEN/consts-ours.txt"; then
	fail "the spec (-) and include/uapi/linux/vhost_accel.h (+) differ"
fi
echo "$(wc -l <"$GEN/consts-ours.txt") constants equal"

# the generated user-space library against our header
cc -c -Wall -Werror -I"$GEN" -I"$SRC/tools/net/ynl/lib" -I"$UAPI" \
	-o "$GEN/vhost_accel-user.o" "$GEN/vhost_accel-user.c"
echo "ynl-check: ok"
