/* cascade.h — two scorers in sequence: a cheap one over every candidate, an
 * expensive one over the cheap one's top N.
 *
 * score(group): `first` scores every candidate; its top_n (by score, ties by
 * input order) form a sub-group, in that order, which `second` scores (a
 * listwise LLM takes that order as its initial ranking).  Final scores:
 *   - the top_n keep `second`'s scores, untouched;
 *   - the others follow in first-stage order with strictly decreasing
 *     scores below every top_n score: m - 1, m - 2, ... where m is the
 *     lowest second-stage score (one ulp apart where 1 is below the
 *     precision of m).
 * Either stage failing, or leaving a non-finite score, fails the group. */
#ifndef RERANK_CASCADE_H
#define RERANK_CASCADE_H

#include <stddef.h>

#include "scorer.h"

/* Creates the cascade; takes ownership of first and second (both non-NULL),
 * freed with it.  top_n >= 1 (cli.c validates; 0 would leave `second`
 * unused).  Never fails. */
struct scorer *cascade_scorer_new(struct scorer *first, struct scorer *second, size_t top_n);

#endif
