/* Thread pool and aligned allocation shared by addon.c and the kernel units (kernels.c). */
#ifndef MEDFL_POOL_H
#define MEDFL_POOL_H
#include <stddef.h>

/** A range of work items [i0, i1) of a parallel loop. */
typedef void (*pool_task)(void *ctx, int i0, int i1);

/**
 * Run items [0, n) and return when all are done: the calling thread and the
 * workers that are awake claim chunks of about n / (4 T) consecutive items
 * from a shared counter (the caller never waits for a sleeping worker), so
 * which thread runs an item varies between calls; kernels make results
 * independent of it by giving each output element to exactly one item with a
 * fixed summation order. min_per_thread bounds the threads used (T <= n /
 * min_per_thread; below two threads' worth the caller runs everything).
 */
void pool_run(int n, pool_task fn, void *ctx, int min_per_thread);
/**
 * Work (floating-point operations, or about 4 per float a memory-bound pass
 * moves) below which a thread is not worth waking: ~10 us of one core.
 */
#define POOL_GRAIN 200000.0
/** min_per_thread for pool_run over n items totalling `work`: each thread gets at least POOL_GRAIN of it. */
int pool_min_items(int n, double work);
/** Threads pool_run uses (>= 1). */
int pool_threads(void);
void *alloc_aligned(size_t bytes);
void free_aligned(void *p);
#endif
