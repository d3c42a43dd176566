/*
 * medfl_native: Node-API addon running medfl's heaviest kernels natively
 * (AVX-512 / AVX2 + FMA / baseline SIMD, chosen at run time) on a small
 * thread pool, in place on the tfjs-wasm heap.
 *
 * JS hands over the heap (the wasm Memory's ArrayBuffer; again after every
 * growth, which detaches it) with setHeap(); every kernel then takes the same
 * arguments as the wasm export of the same name in
 * src/backend/native/kernels.c, pointers being byte offsets into that heap
 * (bounds-checked against its length). Built by scripts/build-addon.js;
 * loaded by src/backend/addon/index.ts.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"

/* ---------------------------------------------------------------- pool */
/* A parallel loop's items are claimed in chunks from a shared counter, by the
 * calling thread and by whichever workers join while the loop is open. The
 * caller never waits for a worker to wake up: a sleeping worker (a futex
 * wake-up of an idle vCPU costs tens of microseconds under KVM / Firecracker,
 * as much as a small kernel) simply finds the loop finished or closed. When
 * the caller has claimed everything it closes the loop and waits only for the
 * workers that joined to finish their chunks. After a loop, workers spin on
 * the generation counter for MEDFL_SPIN_US (default 200 us: kernels of a
 * training step follow each other every few tens of microseconds), then
 * sleep. Which thread computes an item never changes the result: kernels give
 * each output element to exactly one item, summed in a fixed order. */
#define MAX_THREADS 256
#define CLOSED 0x40000000
static long spin_ns = 200000L; /* a worker's spin before sleeping (MEDFL_SPIN_US) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_work = PTHREAD_COND_INITIALIZER;
static int nthreads = 1, nworkers = 0;
static _Atomic unsigned long gen = 0;
static _Atomic int active = CLOSED; /* workers in the current loop; CLOSED once the caller has claimed all items */
static _Atomic int next_item = 0;
static _Atomic int sleepers = 0;
static pool_task cur_fn;
static void *cur_ctx;
static int cur_n, cur_T, cur_chunk;

/* No PAUSE instruction: under KVM a run of PAUSEs triggers a pause-loop exit
 * that hands the vCPU back to the host, which is exactly the latency the spin
 * is meant to avoid (measured: 100+ us per loop on this machine's vCPUs). */
static inline void cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static unsigned long await_gen(unsigned long seen) {
  unsigned long g;
  long t0 = 0;
  for (int spins = 0;; spins++) {
    if ((g = atomic_load(&gen)) != seen) return g;
    cpu_relax();
    if ((spins & 255) == 255) {
      const long t = now_ns();
      if (t0 == 0) t0 = t;
      else if (t - t0 > spin_ns) break;
    }
  }
  pthread_mutex_lock(&mu);
  atomic_fetch_add(&sleepers, 1);
  while ((g = atomic_load(&gen)) == seen) pthread_cond_wait(&cv_work, &mu);
  atomic_fetch_sub(&sleepers, 1);
  pthread_mutex_unlock(&mu);
  return g;
}

/* Claim and run chunks of the current loop until none is left. */
static void drain(void) {
  const int n = cur_n, c = cur_chunk;
  pool_task fn = cur_fn;
  void *ctx = cur_ctx;
  for (;;) {
    const int i0 = atomic_fetch_add_explicit(&next_item, c, memory_order_relaxed);
    if (i0 >= n) return;
    fn(ctx, i0, i0 + c < n ? i0 + c : n);
  }
}

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg; /* 1 .. */
  unsigned long seen = 0;
  for (;;) {
    seen = await_gen(seen);
    /* join the open loop (acquire: its parameters were written before it opened) */
    int s = atomic_load_explicit(&active, memory_order_acquire);
    int joined = 0;
    while (!(s & CLOSED)) {
      if (atomic_compare_exchange_weak_explicit(&active, &s, s + 1, memory_order_acquire, memory_order_acquire)) {
        joined = 1;
        break;
      }
    }
    if (!joined) continue;
    if (id < cur_T) drain();
    atomic_fetch_sub_explicit(&active, 1, memory_order_release);
  }
  return NULL;
}

/* One parallel loop at a time: JS threads (worker_threads) calling kernels
 * concurrently take turns on the pool. */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;

static void pool_run_locked(int n, pool_task fn, void *ctx, int min_per_thread);

void pool_run(int n, pool_task fn, void *ctx, int min_per_thread) {
  if (n <= 0) return;
  if (nthreads <= 1 || n < 2 * (min_per_thread < 1 ? 1 : min_per_thread)) {
    fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&run_mu);
  pool_run_locked(n, fn, ctx, min_per_thread);
  pthread_mutex_unlock(&run_mu);
}

int pool_min_items(int n, double work) {
  if (n <= 0 || work <= 0) return 1;
  const double per_item = work / n;
  const int m = (int)(POOL_GRAIN / per_item) + 1;
  return m < 1 ? 1 : m;
}

static void pool_run_locked(int n, pool_task fn, void *ctx, int min_per_thread) {
  int T = nthreads;
  if (min_per_thread < 1) min_per_thread = 1;
  if (T > n / min_per_thread) T = n / min_per_thread;
  if (T < 1) T = 1;
  while (nworkers < T - 1) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 1 << 20);
    if (pthread_create(&th, &at, worker, (void *)(intptr_t)(nworkers + 1)) != 0) {
      pthread_attr_destroy(&at);
      break;
    }
    pthread_attr_destroy(&at);
    nworkers++;
  }
  if (T > nworkers + 1) T = nworkers + 1;
  if (T <= 1) {
    fn(ctx, 0, n);
    return;
  }
  /* all workers have left the previous loop (the caller waited for them) */
  cur_fn = fn;
  cur_ctx = ctx;
  cur_n = n;
  cur_T = T;
  int c = n / (4 * T);
  if (c < 1) c = 1;
  cur_chunk = c;
  atomic_store_explicit(&next_item, 0, memory_order_relaxed);
  atomic_store_explicit(&active, 0, memory_order_release); /* open */
  atomic_fetch_add(&gen, 1);
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv_work);
    pthread_mutex_unlock(&mu);
  }
  drain();
  /* close: late workers stay out; wait for those that joined */
  atomic_fetch_or_explicit(&active, CLOSED, memory_order_acq_rel);
  for (int spins = 0; (atomic_load_explicit(&active, memory_order_acquire) & ~CLOSED) != 0; spins++) {
    cpu_relax();
    if (spins > 4096) sched_yield();
  }
}

int pool_threads(void) { return nthreads; }

void *alloc_aligned(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
  return p;
}
void free_aligned(void *p) { free(p); }

/* ------------------------------------------------------------ kernels */
typedef float f32;
#define DECL(S) \
  void conv_fwd##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, int, f32 *, int, int); \
  void conv_fwd_flipped##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, int, f32 *, int, int); \
  void conv_dw##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, int, int, int, f32 *); \
  void conv_dx_scatter##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, int, int, int, f32 *, int, int); \
  void matmul##S(const f32 *, int, int, int, const f32 *, int, int, f32 *, int, int, int, int); \
  void transpose_taps##S(const f32 *, int, int, int, f32 *); \
  void dwconv_fwd##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, f32 *, int, int); \
  void dwconv_dw##S(const f32 *, int, int, int, int, const f32 *, int, int, int, int, int, int, int, int, f32 *); \
  void gelu##S(const f32 *, const f32 *, f32 *, int); \
  int max_pool_grad##S(const f32 *, const f32 *, const f32 *, int, int, int, int, int, int, int, int, int, int, int, int, f32 *);
DECL(_g4)
#ifdef HAVE_X86
DECL(_v4)
DECL(_v8)
#endif
#ifdef HAVE_V16
DECL(_v16)
#endif

int chan_sums_native(const f32 *x, const f32 *x2, const f32 *sub, int P, int C, double *acc, double *acc2);
void chan_affine_native(const f32 *a, const f32 *sa, const f32 *b, const f32 *sb, const f32 *shift, int P, int C, f32 *out);
void relu_grad_native(const f32 *dy, const f32 *x, f32 *dx, int n);
void chan_norm_native(const f32 *x, const f32 *nm, const f32 *f, const f32 *sh, int P, int C, f32 *out);
void bias_act_native(f32 *x, int R, int N, const f32 *bias, int relu);
void ew_binary_native(const f32 *a, const f32 *b, f32 *out, size_t n, int op);
void unpool2x2_native(const f32 *x, const f32 *v, f32 *out, int N, int H, int W, int C, int bwd);
void copy_runs_native(const void *src, size_t sstride, void *dst, size_t dstride, size_t len, int outer);
int prelu_grad_native(const f32 *dy, const f32 *x, const f32 *alpha, int P, int C, f32 *dx, double *acc);
void adam_native(const f32 *g, const f32 *m, const f32 *v, const f32 *w, f32 *m2, f32 *v2, f32 *w2, size_t n, f32 b1, f32 b2, f32 c1, f32 c2, f32 o1,
                 f32 o2, f32 eps, f32 lr);

/* ISA levels: 0 baseline (g4), 2 AVX2 + FMA (v4 / v8), 3 AVX-512 (v16). */
static int isa_max = 0, isa = 0;

static void detect(void) {
#ifdef HAVE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa_max = 2;
#ifdef HAVE_V16
  if (isa_max == 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    isa_max = 3;
#endif
#endif
  isa = isa_max;
}

/* Vector width for a vector dimension of D channels: the widest whose width
 * divides D (remainders are scalar) when `exact`, else the widest that
 * divides D or wastes at most a quarter of a 4-vector panel. */
static int pick(int D, int exact) {
  /* exact == 2 (filter gradient, whose tail channels run vectorised over rows): a tail of up to 4 channels is fine */
  if (isa >= 3 && (D % 16 == 0 || (!exact && D >= 64) || (exact == 2 && D >= 16 && D % 16 <= 4))) return 16;
  if (isa >= 2 && (D % 8 == 0 || (!exact && D >= 32) || (exact == 2 && D >= 8 && D % 8 <= 4))) return 8;
  if (isa >= 2) return 5; /* v4 with FMA */
  return 4;
}

/* Vector width for a conv forward (narrow_last: its last panel may be
 * narrower) or matmul over D output channels, which pads the channels to whole
 * panels: the width with the most useful lanes per instruction,
 * D / padded lanes x width (ties: the wider). */
static int lanes(int D, int VW, int narrow_last) {
  const int NV = VW == 16 && D % 64 == 0 && narrow_last ? 4 : D > VW ? 2 : 1;
  const int BW = NV * VW, rem = D % BW;
  int last = rem ? BW : 0;
  if (rem && narrow_last && BW > VW) last = rem <= VW ? VW : rem <= 2 * VW ? 2 * VW : BW;
  return (D / BW) * BW + last;
}
static int pick_padded(int D, int narrow_last) {
  if (isa < 2) return 4;
  const int cand[3] = {16, 8, 4};
  int best = 5;
  double bestScore = -1;
  for (int i = 0; i < 3; i++) {
    const int VW = cand[i];
    if (VW == 16 && isa < 3) continue;
    const double score = (double)D / lanes(D, VW, narrow_last) * VW;
    if (score > bestScore * 1.0001) {
      bestScore = score;
      best = VW == 4 ? 5 : VW;
    }
  }
  return best;
}

#ifdef HAVE_X86
#define SEL(name, w, ...) \
  do { \
    switch (w) { \
      IF16(case 16: name##_v16(__VA_ARGS__); break;) \
      case 8: name##_v8(__VA_ARGS__); break; \
      case 5: name##_v4(__VA_ARGS__); break; \
      default: name##_g4(__VA_ARGS__); \
    } \
  } while (0)
#else
#define SEL(name, w, ...) name##_g4(__VA_ARGS__)
#endif
#ifdef HAVE_V16
#define IF16(x) x
#else
#define IF16(x)
#endif

/* ------------------------------------------------------------- Node-API */
/* Per calling thread: each worker_threads Worker has its own tfjs-wasm heap. */
static __thread uint8_t *heap = NULL;
static __thread size_t heap_len = 0;

#define MAXARGS 20
static int get_args(napi_env env, napi_callback_info info, size_t want, double *a) {
  size_t argc = MAXARGS;
  napi_value argv[MAXARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "medfl_native: too few arguments");
    return 0;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_double(env, argv[i], &a[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "medfl_native: arguments must be numbers");
      return 0;
    }
  }
  if (!heap) {
    napi_throw_error(env, NULL, "medfl_native: no heap (call setHeap first)");
    return 0;
  }
  return 1;
}

static __thread int bad_ptr = 0;
static void *ptr(double off) {
  if (!(off >= 0) || off >= (double)heap_len) {
    bad_ptr = 1;
    return heap;
  }
  return heap + (size_t)off;
}
#define P(i) ((f32 *)ptr(a[i]))
#define PN(i) (a[i] == 0 ? NULL : (f32 *)ptr(a[i]))
#define PD(i) ((double *)ptr(a[i]))
#define I(i) ((int)a[i])
#define CHECK() \
  if (bad_ptr) { \
    bad_ptr = 0; \
    napi_throw_range_error(env, NULL, "medfl_native: pointer outside the wasm heap"); \
    return NULL; \
  }

static napi_value js_conv_fwd(napi_env env, napi_callback_info info) {
  double a[16];
  if (!get_args(env, info, 16, a)) return NULL;
  f32 *xb = P(0), *w = P(5), *y = P(13);
  CHECK();
  const int w_ = pick_padded(I(8), 1);
  SEL(conv_fwd, w_, xb, I(1), I(2), I(3), I(4), w, I(6), I(7), I(8), I(9), I(10), I(11), I(12), y, I(14), I(15));
  return NULL;
}

/* conv_fwd_flipped: conv_fwd's arguments, the filter given as [KH, KW, K, C] (see kernels.c). */
static napi_value js_conv_fwd_flipped(napi_env env, napi_callback_info info) {
  double a[16];
  if (!get_args(env, info, 16, a)) return NULL;
  f32 *xb = P(0), *w = P(5), *y = P(13);
  CHECK();
  const int w_ = pick_padded(I(8), 1);
  SEL(conv_fwd_flipped, w_, xb, I(1), I(2), I(3), I(4), w, I(6), I(7), I(8), I(9), I(10), I(11), I(12), y, I(14), I(15));
  return NULL;
}

static napi_value js_conv_dw(napi_env env, napi_callback_info info) {
  double a[16];
  if (!get_args(env, info, 16, a)) return NULL;
  f32 *xb = P(0), *dy = P(5), *out = P(15);
  CHECK();
  const int w_ = pick(I(8), 2);
  SEL(conv_dw, w_, xb, I(1), I(2), I(3), I(4), dy, I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), out);
  return NULL;
}

static napi_value js_conv_dx_scatter(napi_env env, napi_callback_info info) {
  double a[18];
  if (!get_args(env, info, 18, a)) return NULL;
  f32 *dy = P(0), *wt = P(5), *dx = P(15);
  CHECK();
  const int w_ = pick(I(8), 1);
  SEL(conv_dx_scatter, w_, dy, I(1), I(2), I(3), I(4), wt, I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx, I(16), I(17));
  return NULL;
}

/* matmul(a, aStride, ars, acs, b, bStride, transB, bp (unused), out, batch, M, K, N) */
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  double a[13];
  if (!get_args(env, info, 13, a)) return NULL;
  f32 *A = P(0), *B = P(4), *out = P(8);
  CHECK();
  const int w_ = pick_padded(I(12), 0);
  SEL(matmul, w_, A, I(1), I(2), I(3), B, I(5), I(6), out, I(9), I(10), I(11), I(12));
  return NULL;
}

/* chan_sum(x, P, C, sub, acc, part), bn_grad_sums(dy, x, mean, P, C, acc, acc2, part), chan_affine(a, sa, b, sb, shift, P, C, out),
 * relu_grad(dy, x, dx, n), bias_act(x, R, N, bias, relu): as the wasm exports (bit-identical; `part` unused). */
static napi_value js_chan_sum(napi_env env, napi_callback_info info) {
  double a[6];
  if (!get_args(env, info, 6, a)) return NULL;
  f32 *x = P(0), *sub = PN(3);
  double *acc = PD(4);
  CHECK();
  if (!chan_sums_native(x, NULL, sub, I(1), I(2), acc, NULL)) napi_throw_error(env, NULL, "medfl_native.chan_sum: out of memory");
  return NULL;
}
static napi_value js_bn_grad_sums(napi_env env, napi_callback_info info) {
  double a[8];
  if (!get_args(env, info, 8, a)) return NULL;
  f32 *dy = P(0), *x = P(1), *mean = P(2);
  double *acc = PD(5), *acc2 = PD(6);
  CHECK();
  if (!chan_sums_native(dy, x, mean, I(3), I(4), acc, acc2)) napi_throw_error(env, NULL, "medfl_native.bn_grad_sums: out of memory");
  return NULL;
}
static napi_value js_chan_affine(napi_env env, napi_callback_info info) {
  double a[8];
  if (!get_args(env, info, 8, a)) return NULL;
  f32 *x = P(0), *sa = PN(1), *b = PN(2), *sb = PN(3), *shift = P(4), *out = P(7);
  CHECK();
  chan_affine_native(x, sa, b, sb, shift, I(5), I(6), out);
  return NULL;
}
/* chan_norm(x, negMean, factor, shift, P, C, out): (x + negMean) * factor + shift, tiled vectors. */
static napi_value js_chan_norm(napi_env env, napi_callback_info info) {
  double a[7];
  if (!get_args(env, info, 7, a)) return NULL;
  f32 *x = P(0), *nm = P(1), *f = P(2), *sh = P(3), *out = P(6);
  CHECK();
  chan_norm_native(x, nm, f, sh, I(4), I(5), out);
  return NULL;
}
/* adam(g, m, v, w, m2, v2, w2 byte offsets, n, b1, b2, c1, c2, o1, o2, eps, negLr):
 * all n elements (src/backend/adam.ts's kernel leaves n % 4 to JS); returns n. */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  double a[16];
  if (!get_args(env, info, 16, a)) return NULL;
  const double n = a[7];
  if (!(n >= 0) || n * 4 > (double)heap_len) {
    napi_throw_range_error(env, NULL, "medfl_native: adam: bad length");
    return NULL;
  }
  f32 *g = P(0), *m = P(1), *v = P(2), *w = P(3), *m2 = P(4), *v2 = P(5), *w2 = P(6);
  const size_t bytes = (size_t)n * 4;
  for (int i = 0; i < 7; i++)
    if (a[i] + (double)bytes > (double)heap_len) bad_ptr = 1;
  CHECK();
  adam_native(g, m, v, w, m2, v2, w2, (size_t)n, (f32)a[8], (f32)a[9], (f32)a[10], (f32)a[11], (f32)a[12], (f32)a[13], (f32)a[14], (f32)a[15]);
  napi_value r;
  napi_create_double(env, n, &r);
  return r;
}
/* dwconv_fwd(xb, N, Hb, Wb, C, w, KH, KW, sh, sw, dh, dw, y, Ho, Wo): depthwise forward, multiplier 1, padded input. */
static napi_value js_dwconv_fwd(napi_env env, napi_callback_info info) {
  double a[15];
  if (!get_args(env, info, 15, a)) return NULL;
  f32 *xb = P(0), *w = P(5), *y = P(12);
  CHECK();
  const int w_ = pick(I(4), 1);
  SEL(dwconv_fwd, w_, xb, I(1), I(2), I(3), I(4), w, I(6), I(7), I(8), I(9), I(10), I(11), y, I(13), I(14));
  return NULL;
}
/* dw_conv_dw(xb, N, Hb, Wb, C, dy, Ho, Wo, KH, KW, sh, sw, dh, dw, out): as the wasm export (multiplier-1 filter gradient). */
static napi_value js_dw_conv_dw(napi_env env, napi_callback_info info) {
  double a[15];
  if (!get_args(env, info, 15, a)) return NULL;
  f32 *xb = P(0), *dy = P(5), *out = P(14);
  CHECK();
  const int w_ = pick(I(4), 1);
  SEL(dwconv_dw, w_, xb, I(1), I(2), I(3), I(4), dy, I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), out);
  return NULL;
}
/* ew_binary(a, b, out, n, op): out = a + b (op 0) or a * b (op 1), same shapes. */
static napi_value js_ew_binary(napi_env env, napi_callback_info info) {
  double a[5];
  if (!get_args(env, info, 5, a)) return NULL;
  const double bytes = a[3] * 4;
  if (!(a[3] >= 0) || a[0] + bytes > (double)heap_len || a[1] + bytes > (double)heap_len || a[2] + bytes > (double)heap_len) bad_ptr = 1;
  f32 *x = P(0), *y = P(1), *out = P(2);
  CHECK();
  ew_binary_native(x, y, out, (size_t)a[3], I(4));
  return NULL;
}
/* unpool2x2(x, v, out, N, H, W, C, bwd): SegNet max-unpooling forward (bwd 0) or its value gradient (bwd 1). */
static napi_value js_unpool2x2(napi_env env, napi_callback_info info) {
  double a[8];
  if (!get_args(env, info, 8, a)) return NULL;
  const double full = a[3] * a[4] * a[5] * a[6] * 4; /* bytes of the full-size tensors */
  if (!(full >= 0) || a[0] + full > (double)heap_len || a[1] + (a[7] ? full : full / 4) > (double)heap_len ||
      a[2] + (a[7] ? full / 4 : full) > (double)heap_len || ((int)a[4] | (int)a[5]) & 1)
    bad_ptr = 1;
  f32 *x = P(0), *v = P(1), *out = P(2);
  CHECK();
  unpool2x2_native(x, v, out, I(3), I(4), I(5), I(6), I(7));
  return NULL;
}
/* gelu_fwd(x, y, n) / gelu_bwd(dy, x, dx, n): as the wasm exports. */
static napi_value js_gelu_fwd(napi_env env, napi_callback_info info) {
  double a[3];
  if (!get_args(env, info, 3, a)) return NULL;
  if (!(a[2] >= 0) || a[0] + a[2] * 4 > (double)heap_len || a[1] + a[2] * 4 > (double)heap_len) bad_ptr = 1;
  f32 *x = P(0), *y = P(1);
  CHECK();
  SEL(gelu, pick(16, 1), x, NULL, y, I(2));
  return NULL;
}
static napi_value js_gelu_bwd(napi_env env, napi_callback_info info) {
  double a[4];
  if (!get_args(env, info, 4, a)) return NULL;
  if (!(a[3] >= 0) || a[0] + a[3] * 4 > (double)heap_len || a[1] + a[3] * 4 > (double)heap_len || a[2] + a[3] * 4 > (double)heap_len) bad_ptr = 1;
  f32 *dy = P(0), *x = P(1), *dx = P(2);
  CHECK();
  SEL(gelu, pick(16, 1), x, dy, dx, I(3));
  return NULL;
}
/* copy_runs(src, srcStride, dst, dstStride, len, outer): byte offsets, strides and len in 4-byte elements. */
static napi_value js_copy_runs(napi_env env, napi_callback_info info) {
  double a[6];
  if (!get_args(env, info, 6, a)) return NULL;
  const double span = a[5] > 0 ? (a[5] - 1) : 0;
  if (!(a[4] >= 0) || !(a[5] >= 0) || a[0] + (span * a[1] + a[4]) * 4 > (double)heap_len || a[2] + (span * a[3] + a[4]) * 4 > (double)heap_len) bad_ptr = 1;
  void *src = ptr(a[0]), *dst = ptr(a[2]);
  CHECK();
  if (a[4] > 0 && a[5] > 0) copy_runs_native(src, (size_t)a[1], dst, (size_t)a[3], (size_t)a[4], I(5));
  return NULL;
}
/* prelu_grad(dy, x, alpha, P, C, dx, acc, part): as the wasm export (part unused). */
static napi_value js_prelu_grad(napi_env env, napi_callback_info info) {
  double a[8];
  if (!get_args(env, info, 8, a)) return NULL;
  const double bytes = a[3] * a[4] * 4;
  if (!(bytes >= 0) || a[0] + bytes > (double)heap_len || a[1] + bytes > (double)heap_len || a[5] + bytes > (double)heap_len ||
      a[2] + a[4] * 4 > (double)heap_len || a[6] + a[4] * 8 > (double)heap_len)
    bad_ptr = 1;
  f32 *dy = P(0), *x = P(1), *alpha = P(2), *dx = P(5);
  double *acc = PD(6);
  CHECK();
  if (!prelu_grad_native(dy, x, alpha, I(3), I(4), dx, acc)) {
    napi_throw_error(env, NULL, "medfl_native: prelu_grad: out of memory");
    return NULL;
  }
  return NULL;
}
static napi_value js_relu_grad(napi_env env, napi_callback_info info) {
  double a[4];
  if (!get_args(env, info, 4, a)) return NULL;
  f32 *dy = P(0), *x = P(1), *dx = P(2);
  CHECK();
  relu_grad_native(dy, x, dx, I(3));
  return NULL;
}
static napi_value js_bias_act(napi_env env, napi_callback_info info) {
  double a[5];
  if (!get_args(env, info, 5, a)) return NULL;
  f32 *x = P(0), *bias = PN(3);
  CHECK();
  bias_act_native(x, I(1), I(2), bias, I(4));
  return NULL;
}

/* max_pool_grad(x, y, dy, N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, dx) -> windows with no match (NaN). */
static napi_value js_max_pool_grad(napi_env env, napi_callback_info info) {
  double a[16];
  if (!get_args(env, info, 16, a)) return NULL;
  f32 *x = P(0), *y = P(1), *dy = P(2), *dx = P(15);
  CHECK();
  const int w_ = pick(I(6), 1);
  int miss = 0;
#ifdef HAVE_X86
  switch (w_) {
    IF16(case 16: miss = max_pool_grad_v16(x, y, dy, I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx); break;)
    case 8: miss = max_pool_grad_v8(x, y, dy, I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx); break;
    case 5: miss = max_pool_grad_v4(x, y, dy, I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx); break;
    default: miss = max_pool_grad_g4(x, y, dy, I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx);
  }
#else
  miss = max_pool_grad_g4(x, y, dy, I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12), I(13), I(14), dx);
#endif
  if (miss < 0) {
    napi_throw_error(env, NULL, "medfl_native.max_pool_grad: out of memory");
    return NULL;
  }
  napi_value r;
  napi_create_int32(env, miss, &r);
  return r;
}

/* transpose_taps(w, T, C, K, wt): wt[t, k, c] = w[t, c, k]. */
static napi_value js_transpose_taps(napi_env env, napi_callback_info info) {
  double a[5];
  if (!get_args(env, info, 5, a)) return NULL;
  f32 *w = P(0), *wt = P(4);
  CHECK();
  transpose_taps_g4(w, I(1), I(2), I(3), wt);
  return NULL;
}

/* pad_nhwc(x, xp, N, H, W, C, Hp, Wp, pt, pl): rows in parallel. */
struct pad_args { const f32 *x; f32 *xp; int N, H, W, C, Hp, Wp, pt, pl; };
static void pad_rows(void *ctx, int r0, int r1) {
  const struct pad_args *p = (const struct pad_args *)ctx;
  const int rowP = p->Wp * p->C;
  int x0 = p->pl < 0 ? -p->pl : 0, x1 = p->W;
  if (x1 + p->pl > p->Wp) x1 = p->Wp - p->pl;
  for (int r = r0; r < r1; r++) {
    const int n = r / p->Hp, yp = r % p->Hp, y = yp - p->pt;
    f32 *dst = p->xp + (ptrdiff_t)r * rowP;
    if (y < 0 || y >= p->H || x1 <= x0) {
      memset(dst, 0, (size_t)rowP * sizeof(f32));
      continue;
    }
    const int l = (x0 + p->pl) * p->C, m = (x1 - x0) * p->C;
    memset(dst, 0, (size_t)l * sizeof(f32));
    memcpy(dst + l, p->x + ((ptrdiff_t)(n * p->H + y) * p->W + x0) * p->C, (size_t)m * sizeof(f32));
    memset(dst + l + m, 0, (size_t)(rowP - l - m) * sizeof(f32));
  }
}
static napi_value js_pad_nhwc(napi_env env, napi_callback_info info) {
  double a[10];
  if (!get_args(env, info, 10, a)) return NULL;
  struct pad_args p = {P(0), P(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9)};
  CHECK();
  pool_run(p.N * p.Hp, pad_rows, &p, 16);
  return NULL;
}

static napi_value js_set_heap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  size_t len = 0;
  bool isab = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &isab) != napi_ok || !isab ||
      napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "medfl_native.setHeap: expected the wasm memory's ArrayBuffer");
    return NULL;
  }
  heap = (uint8_t *)data;
  heap_len = len;
  return NULL;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double n = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_double(env, argv[0], &n) != napi_ok || !(n >= 1)) {
    napi_throw_range_error(env, NULL, "medfl_native.setThreads: expected a number >= 1");
    return NULL;
  }
  nthreads = n > MAX_THREADS ? MAX_THREADS : (int)n;
  return NULL;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, nthreads, &r);
  return r;
}

static const char *isa_name(int l) { return l >= 3 ? "avx512" : l >= 2 ? "avx2" : "baseline"; }

/* isa(): the level in use; setIsa(name): cap it ('avx512' | 'avx2' | 'baseline'; for tests). */
static napi_value js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, isa_name(isa), NAPI_AUTO_LENGTH, &r);
  return r;
}
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char buf[16] = {0};
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "medfl_native.setIsa: expected 'avx512', 'avx2' or 'baseline'");
    return NULL;
  }
  int want = !strcmp(buf, "avx512") ? 3 : !strcmp(buf, "avx2") ? 2 : !strcmp(buf, "baseline") ? 0 : -1;
  if (want < 0) {
    napi_throw_range_error(env, NULL, "medfl_native.setIsa: expected 'avx512', 'avx2' or 'baseline'");
    return NULL;
  }
  isa = want < isa_max ? want : isa_max;
  return js_isa(env, info);
}

static napi_value init(napi_env env, napi_value exports) {
  detect();
  {
    const char *e = getenv("MEDFL_SPIN_US");
    if (e && *e) spin_ns = atol(e) * 1000L;
  }
  napi_property_descriptor props[] = {
    {"setHeap", NULL, js_set_heap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"threads", NULL, js_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"isa", NULL, js_isa, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setIsa", NULL, js_set_isa, NULL, NULL, NULL, napi_enumerable, NULL},
    {"conv_fwd", NULL, js_conv_fwd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"conv_fwd_flipped", NULL, js_conv_fwd_flipped, NULL, NULL, NULL, napi_enumerable, NULL},
    {"conv_dw", NULL, js_conv_dw, NULL, NULL, NULL, napi_enumerable, NULL},
    {"conv_dx_scatter", NULL, js_conv_dx_scatter, NULL, NULL, NULL, napi_enumerable, NULL},
    {"matmul", NULL, js_matmul, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pad_nhwc", NULL, js_pad_nhwc, NULL, NULL, NULL, napi_enumerable, NULL},
    {"transpose_taps", NULL, js_transpose_taps, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chan_sum", NULL, js_chan_sum, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bn_grad_sums", NULL, js_bn_grad_sums, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chan_affine", NULL, js_chan_affine, NULL, NULL, NULL, napi_enumerable, NULL},
    {"relu_grad", NULL, js_relu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chan_norm", NULL, js_chan_norm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"max_pool_grad", NULL, js_max_pool_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bias_act", NULL, js_bias_act, NULL, NULL, NULL, napi_enumerable, NULL},
    {"adam", NULL, js_adam, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ew_binary", NULL, js_ew_binary, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unpool2x2", NULL, js_unpool2x2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"copy_runs", NULL, js_copy_runs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"prelu_grad", NULL, js_prelu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gelu_fwd", NULL, js_gelu_fwd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gelu_bwd", NULL, js_gelu_bwd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dwconv_fwd", NULL, js_dwconv_fwd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dw_conv_dw", NULL, js_dw_conv_dw, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
