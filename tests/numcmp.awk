# tests/numcmp.awk — compares two files line by line, numbers with a
# tolerance: `awk -f tests/numcmp.awk WANT GOT` exits 0 when every line is
# the same once each number is replaced by a placeholder, and every pair of
# numbers agrees within 1e-6 + 1e-5 * |want|.  The CLI cases hold scores
# that the binary computed on one CPU; another CPU's BLAS kernels round
# differently in the last float32 digit, so those digits are compared with
# a tolerance (exactness against Hugging Face is the unit suites' job, with
# references computed independently).  Integers such as ranks still have to
# agree exactly: they differ by at least 1.
function skeleton(s, nums,    n, re) {
    n = 0
    re = "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?"
    while (match(s, re)) {
        nums[++n] = substr(s, RSTART, RLENGTH) + 0
        s = substr(s, 1, RSTART - 1) "\001" substr(s, RSTART + RLENGTH)
    }
    nums[0] = n
    return s
}
function abs(x) { return x < 0 ? -x : x }
NR == FNR { want[FNR] = $0; n_want = FNR; next }
{
    n_got = FNR
    if (FNR > n_want) { bad = 1; exit }
    if ($0 == want[FNR]) next
    if (skeleton(want[FNR], a) != skeleton($0, b) || a[0] != b[0]) { bad = 1; exit }
    for (i = 1; i <= a[0]; i++)
        if (abs(a[i] - b[i]) > 1e-6 + 1e-5 * abs(a[i])) { bad = 1; exit }
}
END { if (bad || n_got != n_want) exit 1 }
