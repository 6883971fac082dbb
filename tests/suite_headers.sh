#!/bin/sh
# tests/suite_headers.sh — every header compiles on its own (includes what it
# uses), and the writers' header does not pull in the tokenizer layer (it
# only passes a struct encoding through).  Skipped without a C compiler.
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
cc=${CC:-cc}
if ! command -v "$cc" > /dev/null || ! command -v "${PKG_CONFIG:-pkg-config}" > /dev/null; then
    echo "SKIP headers: no $cc or pkg-config"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
flags="-std=c11 -D_GNU_SOURCE -fsyntax-only -Isrc $(${PKG_CONFIG:-pkg-config} --cflags libcurl jansson openblas libutf8proc 2>/dev/null)"
for h in src/*.h src/*/*.h; do
    printf '#include "%s"\n' "${h#src/}" | $cc $flags -x c - 2> tests/out/header.err && ok \
        || bad "$h does not compile alone: $(head -n 3 tests/out/header.err)"
done
printf '#include "output.h"\n#ifdef RERANK_TOKENIZER_H\n#error output.h includes tokenizer.h\n#endif\n' |
    $cc $flags -x c - 2> tests/out/header.err && ok || bad "$(head -n 1 tests/out/header.err)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
