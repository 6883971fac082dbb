/* progress.c — the progress line on standard error (see progress.h). */
#include "progress.h"

#include <string.h>

enum {
    SHOW_AFTER = 1,     /* seconds before the first redraw: short runs stay silent */
    SUMMARY_AFTER = 3,  /* runs at least this long leave a summary line */
};
#define REDRAW_EVERY 0.25

void progress_init(struct progress *p, FILE *f, bool dumb, double now)
{
    *p = (struct progress){.f = f, .dumb = dumb, .start = now, .scoring_start = -1,
                           .last = now, .total_groups = -1, .total_cands = -1};
}

void progress_set_totals(struct progress *p, long groups, long long cands)
{
    p->total_groups = groups;
    p->total_cands = cands;
}

/* "1h02m05s", "2m05s", "5s". */
static void put_duration(struct buf *out, double s)
{
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        buf_printf(out, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        buf_printf(out, "%ldm%02lds", t / 60, t % 60);
    else
        buf_printf(out, "%lds", t);
}

void progress_text(const struct progress *p, double now, struct buf *out)
{
    long long cands = p->cands + (long long)p->group_done;
    buf_printf(out, "%ld", p->groups);
    if (p->total_groups >= 0)
        buf_printf(out, "/%ld", p->total_groups);
    buf_printf(out, " group%s, %lld", p->total_groups < 0 && p->groups == 1 ? "" : "s", cands);
    if (p->total_cands >= 0)
        buf_printf(out, "/%lld", p->total_cands);
    buf_puts(out, cands == 1 && p->total_cands < 0 ? " candidate" : " candidates");
    if (p->cache_hits)
        buf_printf(out, " (%lld cached)", *p->cache_hits);
    double t = p->scoring_start >= 0 ? now - p->scoring_start : 0;
    double rate = t > 0 ? (double)cands / t : 0;
    if (rate > 0)
        buf_printf(out, rate < 10 ? ", %.1f candidates/s" : ", %.0f candidates/s", rate);
    if (p->group_total > 0 && p->group_done < p->group_total)
        buf_printf(out, ", this group %zu/%zu", p->group_done, p->group_total);
    if (rate > 0 && p->total_cands >= 0 && cands <= p->total_cands) {
        buf_puts(out, ", ETA ");
        put_duration(out, (double)(p->total_cands - cands) / rate);
    }
}

void progress_show(struct progress *p, const char *text)
{
    if (!p->f)
        return;
    size_t n = strlen(text) + strlen("rerank: ");
    if (p->dumb) {
        /* Blank what a longer previous line left, with spaces. */
        fprintf(p->f, "\rrerank: %s%*s", text, p->shown > n ? (int)(p->shown - n) : 0, "");
    } else {
        fprintf(p->f, "\r\033[Krerank: %s", text);
    }
    fflush(p->f);
    p->shown = n > p->shown || !p->dumb ? n : p->shown;
}

void progress_clear(struct progress *p)
{
    if (!p->f || !p->shown)
        return;
    if (p->dumb)
        fprintf(p->f, "\r%*s\r", (int)p->shown, "");
    else
        fputs("\r\033[K", p->f);
    p->shown = 0;
}

/* Redraws when the display is due (after SHOW_AFTER, every REDRAW_EVERY). */
static void tick(struct progress *p, double now)
{
    if (!p->f || now - p->start < SHOW_AFTER || now - p->last < REDRAW_EVERY)
        return;
    p->last = now;
    struct buf b = {0};
    progress_text(p, now, &b);
    progress_show(p, b.data);
    buf_free(&b);
}

void progress_group_begin(struct progress *p, double now)
{
    if (p->scoring_start < 0)
        p->scoring_start = now;
}

void progress_in_group(struct progress *p, size_t done, size_t total, double now)
{
    p->group_done = done;
    p->group_total = total;
    tick(p, now);
}

void progress_group_done(struct progress *p, size_t n, double now)
{
    p->groups++;
    p->cands += (long long)n;
    p->group_done = p->group_total = 0;
    tick(p, now);
}

void progress_finish(struct progress *p, double now)
{
    if (!p->f)
        return;
    progress_clear(p);
    double t = now - p->start;
    if (t < SUMMARY_AFTER)
        return;
    struct buf b = {0};
    put_duration(&b, t);
    double rate = (double)p->cands / t;
    fprintf(p->f, rate < 10 ? "rerank: %ld group%s, %lld candidate%s in %s (%.1f candidates/s)\n"
                            : "rerank: %ld group%s, %lld candidate%s in %s (%.0f candidates/s)\n",
            p->groups, p->groups == 1 ? "" : "s", p->cands, p->cands == 1 ? "" : "s", b.data,
            rate);
    fflush(p->f);
    buf_free(&b);
}
