/* Thread pool and aligned allocation shared by addon.c and the kernel units (kernels.c). */
#ifndef MEDFL_POOL_H
#define MEDFL_POOL_H
#include <stddef.h>

/** A range of work items [i0, i1) of a parallel loop. */
typedef void (*pool_task)(void *ctx, int i0, int i1);

/**
 * Run items [0, n) split into contiguous chunks, one per thread (the calling
 * thread takes the first), and return when all are done. The split depends
 * only on n and the thread count; kernels make results independent of it by
 * giving each output element to exactly one item. min_per_thread bounds the
 * threads used (at least that many items each).
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
