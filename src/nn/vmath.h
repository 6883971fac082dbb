/* vmath.h — the vector helpers of kernels.c (load, store, splat, select,
 * min, max, exp, erfc, GELU), written once for any vector width.  Only
 * kernels.c and attention.c include it, once per width, with VF (a float
 * vector type), VI (the int32 vector of as many lanes) and SFX (a suffix
 * for the names, empty for the 8-lane set) defined; INLINE is the
 * includer's.  Every helper is lane-wise, so a lane's result is the same
 * bits at any width.
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

INLINE VF VM(vmin)(VF a, VF b)
{
    return VM(vselect)(a < b, a, b);
}

INLINE VF VM(vmax)(VF a, VF b)
{
    return VM(vselect)(a > b, a, b);
}

/* e^x for x in [-87.3, 88.3] (clamped outside): x = n ln2 + r with
 * |r| <= ln2/2 (two-constant Cody-Waite reduction), e^r by its degree-7
 * Taylor polynomial (truncation error < 6e-9 relative), 2^n built in the
 * exponent bits.  Relative error about 1 ulp. */
INLINE VF VM(vexp)(VF x)
{
    x = VM(vmax)(VM(vmin)(x, VS(88.3f)), VS(-87.3f));
    const VF shifter = VS(12582912.0f); /* 1.5 * 2^23: rounds to int */
    VF t = x * VS(1.44269504f) + shifter;
    VI n = (VI)t - (VI)shifter;
    VF nf = t - shifter;
    VF r = x - nf * VS(0.693359375f) - nf * VS(-2.12194440e-4f);
    VF p = VS(1.0f / 5040);
    p = p * r + VS(1.0f / 720);
    p = p * r + VS(1.0f / 120);
    p = p * r + VS(1.0f / 24);
    p = p * r + VS(1.0f / 6);
    p = p * r + VS(0.5f);
    p = p * r + VS(1.0f);
    p = p * r + VS(1.0f);
    VF scale = (VF)((n + 127) << 23);
    return p * scale;
}

/* erfc(z) for all z: for a = |z| (capped at 10, where erfc underflows),
 * erfc(a) = t exp(-a^2 + P(t)) with t = 1/(1 + a/2) and P a degree-9
 * polynomial fitted for this file (iteratively reweighted least squares on
 * Chebyshev nodes) to log(erfc(a) e^(a^2) / t) on a in [0, 10], max error
 * 4.5e-8 before float rounding; then
 * erfc(z) = 2 - erfc(-z) for negative z.  Absolute error about 2e-7. */
INLINE VF VM(verfc)(VF z)
{
    VF a = VM(vmin)(VM(vselect)(z < VS(0.0f), -z, z), VS(10.0f));
    VF t = VS(1.0f) / (VS(1.0f) + VS(0.5f) * a);
    VF p = VS(0.14220587144364213f);
    p = p * t + VS(-0.6661263044518819f);
    p = p * t + VS(1.1225492346239214f);
    p = p * t + VS(-0.6514445649208738f);
    p = p * t + VS(-0.11662693293644955f);
    p = p * t + VS(0.020111899078361473f);
    p = p * t + VS(0.028385134853652294f);
    p = p * t + VS(0.3878940166656663f);
    p = p * t + VS(0.9984931592486721f);
    p = p * t + VS(-1.2654414683772996f);
    VF r = t * VM(vexp)(p - a * a);
    return VM(vselect)(z < VS(0.0f), VS(2.0f) - r, r);
}

/* gelu(v) = 0.5 v (1 + erf(v/sqrt2)) = 0.5 v erfc(-v/sqrt2): the erfc form
 * keeps full relative accuracy where 1 + erf cancels (large negative v). */
INLINE VF VM(vgelu)(VF v)
{
    return VS(0.5f) * v * VM(verfc)(v * VS(-0.70710678118654752f));
}

#undef VS
#undef VM
#undef VM_CAT
#undef VM_CAT2

#endif /* VF */
