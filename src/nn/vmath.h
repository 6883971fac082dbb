/* vmath.h — the vector helpers of kernels.c (load, store, splat, select,
 * min, max, fused multiply-add, horizontal max, exp, erfc, GELU),
 * written once for any vector width.  kernels.c includes it once per
 * instruction set and attention.c once per width, with VF (a float vector
 * type), VI (the int32 vector of as many lanes), SFX (a suffix for the
 * names) and VFMA(a, b, c) (a * b + c: one rounding where the includer
 * wants FMA, two where it does not) defined, and optionally the set's own
 * VLOADN, VSTOREN, VHMAX, VMIN, VMAX; INLINE is the includer's.  Every
 * helper but the horizontal ones is lane-wise, so a lane's result is the
 * same bits at any width with the same VFMA.
 * Without VF (included alone) it defines nothing. */
#include <stddef.h>
#include <string.h>

#ifdef VF
#define VM_CAT2(a, b) a##b
#define VM_CAT(a, b) VM_CAT2(a, b)
#define VM(name) VM_CAT(name, SFX)
#define VS(x) VM(vsplat)(x)

INLINE VF VM(vload)(const float *p)
{
    VF v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void VM(vstore)(float *p, VF v)
{
    memcpy(p, &v, sizeof v);
}

INLINE VF VM(vsplat)(float x)
{
    VF v;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        v[i] = x;
    return v;
}

/* Lane-wise select: where mask (all ones), a; elsewhere b. */
INLINE VF VM(vselect)(VI mask, VF a, VF b)
{
    return (VF)(((VI)a & mask) | ((VI)b & ~mask));
}

/* a < b ? a : b and a > b ? a : b lane-wise: what x86's minps and maxps
 * compute (VMIN, VMAX where the set has them), NaN included. */
INLINE VF VM(vmin)(VF a, VF b)
{
#ifdef VMIN
    return VMIN(a, b);
#else
    return VM(vselect)(a < b, a, b);
#endif
}

INLINE VF VM(vmax)(VF a, VF b)
{
#ifdef VMAX
    return VMAX(a, b);
#else
    return VM(vselect)(a > b, a, b);
#endif
}

/* |x|: the sign bit cleared. */
INLINE VF VM(vabs)(VF x)
{
    return (VF)((VI)x & ~(VI)VM(vsplat)(-0.0f));
}

INLINE VF VM(vfma)(VF a, VF b, VF c)
{
    return VFMA(a, b, c);
}

/* The first n < W lanes from p (the rest fill), and back: the ragged
 * end of a row, never touching memory past it.  VLOADN and VSTOREN are
 * the set's masked moves where it has them. */
INLINE VF VM(vload_n)(const float *p, size_t n, float fill)
{
#ifdef VLOADN
    return VLOADN(p, n, fill);
#else
    VF v = VM(vsplat)(fill);
    memcpy(&v, p, n * sizeof(float));
    return v;
#endif
}

INLINE void VM(vstore_n)(float *p, VF v, size_t n)
{
#ifdef VSTOREN
    VSTOREN(p, v, n);
#else
    memcpy(p, &v, n * sizeof(float));
#endif
}

/* The maximum of the lanes (VHMAX where the set has a shuffle tree; the
 * maximum is the same whatever the order). */
INLINE float VM(vhmax)(VF v)
{
#ifdef VHMAX
    return VHMAX(v);
#else
    float m = v[0];
    for (size_t i = 1; i < sizeof v / sizeof v[0]; i++)
        m = v[i] > m ? v[i] : m;
    return m;
#endif
}

/* e^x for x in [-87.3, 88.3] (clamped outside): x = n ln2 + r with
 * |r| <= ln2/2 (two-constant Cody-Waite reduction), e^r by its degree-7
 * Taylor polynomial (truncation error < 6e-9 relative), 2^n built in the
 * exponent bits.  Relative error about 1 ulp. */
INLINE VF VM(vexp)(VF x)
{
    x = VM(vmax)(VM(vmin)(x, VS(88.3f)), VS(-87.3f));
    const VF shifter = VS(12582912.0f); /* 1.5 * 2^23: rounds to int */
    VF t = VM(vfma)(x, VS(1.44269504f), shifter);
    VI n = (VI)t - (VI)shifter;
    VF nf = t - shifter;
    VF r = VM(vfma)(nf, VS(-0.693359375f), x);
    r = VM(vfma)(nf, VS(2.12194440e-4f), r);
    VF p = VS(1.0f / 5040);
    p = VM(vfma)(p, r, VS(1.0f / 720));
    p = VM(vfma)(p, r, VS(1.0f / 120));
    p = VM(vfma)(p, r, VS(1.0f / 24));
    p = VM(vfma)(p, r, VS(1.0f / 6));
    p = VM(vfma)(p, r, VS(0.5f));
    p = VM(vfma)(p, r, VS(1.0f));
    p = VM(vfma)(p, r, VS(1.0f));
    VF scale = (VF)((n + 127) << 23);
    return p * scale;
}

/* e^x for x in [-87.3, 88.3] (clamped outside), on k <= GN vectors at once
 * in lockstep (their chains interleaved for the out-of-order core; each
 * lane gets exactly vexp's arithmetic whatever k).  k is a constant at
 * every call, so the loops unroll away. */
#ifndef GN
#define GN 4
#endif
#define GFOR _Pragma("GCC unroll 4") for (int i = 0; i < k; i++)
INLINE void VM(vexp_n)(VF *x, int k)
{
    const VF shifter = VS(12582912.0f);
    VI n[GN];
    VF r[GN], p[GN];
    GFOR x[i] = VM(vmax)(VM(vmin)(x[i], VS(88.3f)), VS(-87.3f));
    GFOR {
        VF t = VM(vfma)(x[i], VS(1.44269504f), shifter);
        n[i] = (VI)t - (VI)shifter;
        VF nf = t - shifter;
        r[i] = VM(vfma)(nf, VS(-0.693359375f), x[i]);
        r[i] = VM(vfma)(nf, VS(2.12194440e-4f), r[i]);
    }
    GFOR p[i] = VM(vfma)(VS(1.0f / 5040), r[i], VS(1.0f / 720));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(1.0f / 120));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(1.0f / 24));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(1.0f / 6));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(0.5f));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(1.0f));
    GFOR p[i] = VM(vfma)(p[i], r[i], VS(1.0f));
    GFOR x[i] = p[i] * (VF)((n[i] + 127) << 23);
}

/* erfc(z) for all z: for a = |z| (capped at 10, where erfc underflows),
 * erfc(a) = t exp(-a^2 + P(t)) with t = 1/(1 + a/2) and P a degree-9
 * polynomial fitted for this file (iteratively reweighted least squares on
 * Chebyshev nodes) to log(erfc(a) e^(a^2) / t) on a in [0, 10], max error
 * 4.5e-8 before float rounding; then
 * erfc(z) = 2 - erfc(-z) for negative z.  Absolute error about 2e-7.
 * On k <= GN vectors in lockstep, as vexp_n. */
INLINE void VM(verfc_n)(VF *z, int k)
{
    static const float c[] = {
        -0.6661263044518819f,  1.1225492346239214f,   -0.6514445649208738f,
        -0.11662693293644955f, 0.020111899078361473f, 0.028385134853652294f,
        0.3878940166656663f,   0.9984931592486721f,   -1.2654414683772996f};
    VF a[GN], t[GN], p[GN];
    GFOR a[i] = VM(vmin)(VM(vabs)(z[i]), VS(10.0f));
    GFOR t[i] = VS(1.0f) / VM(vfma)(VS(0.5f), a[i], VS(1.0f));
    GFOR p[i] = VS(0.14220587144364213f);
    for (size_t j = 0; j < sizeof c / sizeof c[0]; j++)
        GFOR p[i] = VM(vfma)(p[i], t[i], VS(c[j]));
    GFOR p[i] = VM(vfma)(-a[i], a[i], p[i]);
    VM(vexp_n)(p, k);
    GFOR {
        VF r = t[i] * p[i];
        z[i] = VM(vselect)(z[i] < VS(0.0f), VS(2.0f) - r, r);
    }
}

/* gelu(v) = 0.5 v (1 + erf(v/sqrt2)) = 0.5 v erfc(-v/sqrt2): the erfc form
 * keeps full relative accuracy where 1 + erf cancels (large negative v).
 * On k <= GN vectors in lockstep. */
INLINE void VM(vgelu_n)(VF *v, int k)
{
    VF e[GN];
    GFOR e[i] = v[i] * VS(-0.70710678118654752f);
    VM(verfc_n)(e, k);
    GFOR v[i] = VS(0.5f) * v[i] * e[i];
}

INLINE VF VM(vgelu)(VF v)
{
    VM(vgelu_n)(&v, 1);
    return v;
}
#undef GFOR

#undef VS
#undef VM
#undef VM_CAT
#undef VM_CAT2

#endif /* VF */
