/*
 * medfl's WebAssembly SIMD compute kernels (compiled by scripts/build-wasm.sh
 * with clang --target=wasm32 -msimd128 into src/backend/native/kernels-wasm.ts).
 *
 * The module imports tfjs-backend-wasm's linear memory: every pointer is a
 * byte offset of a tensor (or scratch tensor) on the tfjs heap. No static
 * data, no linear-memory stack (no address-taken locals), no libc.
 *
 * Layouts are TensorFlow's: activations NHWC, filters HWIO [KH, KW, C, K].
 *
 * Built twice: plain SIMD128, and with -DMEDFL_RELAXED_SIMD, where the
 * multiply-accumulate of the conv / matmul tiles is one relaxed_madd (FMA on
 * x86 with FMA3: ~25% more flops per cycle in V8, whose register allocator
 * caps the tiles at 4 x 8); the loader picks the second where the engine
 * accepts relaxed SIMD.
 */
#include <wasm_simd128.h>

typedef float f32;
typedef v128_t v;
#define EXPORT(n) __attribute__((export_name(n)))
#define LD(p) wasm_v128_load(p)
#define ST(p, x) wasm_v128_store((p), (x))
#define SPLAT(p) wasm_v128_load32_splat(p)
#ifdef MEDFL_RELAXED_SIMD
/* Relaxed SIMD build: acc + a b as one f32x4.relaxed_madd (a fused multiply-add
 * where the hardware has one, e.g. x86 FMA3). */
typedef float f32x4_t __attribute__((vector_size(16)));
#define MAC(acc, a, b) acc = (v)__builtin_wasm_relaxed_madd_f32x4((f32x4_t)(a), (f32x4_t)(b), (f32x4_t)(acc))
#else
#define MAC(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul((a), (b)))
#endif
#define ZERO wasm_f32x4_splat(0.0f)

/* Load the first n (< 4) floats at p into a vector (zeros beyond n). */
static inline v load_n(const f32 *p, int n) {
  v t = ZERO;
  t = wasm_f32x4_replace_lane(t, 0, p[0]);
  if (n > 1) t = wasm_f32x4_replace_lane(t, 1, p[1]);
  if (n > 2) t = wasm_f32x4_replace_lane(t, 2, p[2]);
  return t;
}

/* Store the first n (< 4: partial) lanes of x at o. */
static inline void store_n(f32 *o, v x, int n) {
  if (n >= 4) {
    ST(o, x);
    return;
  }
  if (n > 0) o[0] = wasm_f32x4_extract_lane(x, 0);
  if (n > 1) o[1] = wasm_f32x4_extract_lane(x, 1);
  if (n > 2) o[2] = wasm_f32x4_extract_lane(x, 2);
}


/* ------------------------------------------------------------------------ */
/* Zero padding: xp[N, Hp, Wp, C] = x[N, H, W, C] placed at (pt, pl); rows or
 * columns of x beyond the padded extent are dropped. */
EXPORT("pad_nhwc")
void pad_nhwc(const f32 *x, f32 *xp, int N, int H, int W, int C, int Hp, int Wp, int pt, int pl) {
  const int rowP = Wp * C;
  __builtin_memset(xp, 0, (unsigned long)N * Hp * rowP * sizeof(f32));
  int x0 = pl < 0 ? -pl : 0;
  int x1 = W;
  if (x1 + pl > Wp) x1 = Wp - pl;
  if (x1 <= x0) return;
  for (int n = 0; n < N; n++) {
    for (int y = 0; y < H; y++) {
      int yp = y + pt;
      if (yp < 0 || yp >= Hp) continue;
      __builtin_memcpy(xp + ((long)(n * Hp + yp) * Wp + x0 + pl) * C, x + ((long)(n * H + y) * W + x0) * C,
                       (unsigned long)(x1 - x0) * C * sizeof(f32));
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Direct convolution over an already padded input buffer xb[N, Hb, Wb, C]:
 * y[n, oy, ox, k] = sum_{ky,kx,c} xb[n, oy*sh + ky*dh, ox*sw + kx*dw, c] w[ky, kx, c, k]
 * for oy < Ho, ox < Wo (the caller guarantees every read is inside xb).
 *
 * The filter is first packed into panels of bw output channels (bw = 8 when
 * K % 8 == 0, else 4), wpk[panel][ky, kx, c][bw], the last panel zero-padded:
 * the inner loops then read weights sequentially whatever K is, and K < 4 or
 * K % 4 != 0 runs on the same SIMD tiles, storing only the valid lanes.
 * Register tiles: 4 output pixels x 8 channels (bw 8) or 8 pixels x 4
 * channels (bw 4); 1 pixel x 4 channels for the last pixels of a row. */

/* 4 output pixels x 8 output channels; wp: the panel (8 floats per row). */
static inline void tile_p4_k8(const f32 *x0, int pstep, int C, const f32 *wp, int KH, int KW, int rowStep, int kxStep, f32 *y, int K) {
  v a00 = ZERO, a01 = ZERO, a10 = ZERO, a11 = ZERO, a20 = ZERO, a21 = ZERO, a30 = ZERO, a31 = ZERO;
  for (int ky = 0; ky < KH; ky++) {
    const f32 *xr = x0 + ky * rowStep;
    for (int kx = 0; kx < KW; kx++) {
      const f32 *p0 = xr + kx * kxStep;
      const f32 *p1 = p0 + pstep, *p2 = p1 + pstep, *p3 = p2 + pstep;
      for (int c = 0; c < C; c++) {
        v w0 = LD(wp), w1 = LD(wp + 4);
        wp += 8;
        v b0 = SPLAT(p0 + c), b1 = SPLAT(p1 + c), b2 = SPLAT(p2 + c), b3 = SPLAT(p3 + c);
        MAC(a00, b0, w0); MAC(a01, b0, w1);
        MAC(a10, b1, w0); MAC(a11, b1, w1);
        MAC(a20, b2, w0); MAC(a21, b2, w1);
        MAC(a30, b3, w0); MAC(a31, b3, w1);
      }
    }
  }
  ST(y, a00); ST(y + 4, a01);
  ST(y + K, a10); ST(y + K + 4, a11);
  ST(y + 2 * K, a20); ST(y + 2 * K + 4, a21);
  ST(y + 3 * K, a30); ST(y + 3 * K + 4, a31);
}

/* 8 output pixels x 4 output channels (nv of them valid); wp: the panel (4 floats per row). */
static inline void tile_p8_k4(const f32 *x0, int pstep, int C, const f32 *wp, int KH, int KW, int rowStep, int kxStep, f32 *y, int K, int nv) {
  v a0 = ZERO, a1 = ZERO, a2 = ZERO, a3 = ZERO, a4 = ZERO, a5 = ZERO, a6 = ZERO, a7 = ZERO;
  for (int ky = 0; ky < KH; ky++) {
    const f32 *xr = x0 + ky * rowStep;
    for (int kx = 0; kx < KW; kx++) {
      const f32 *p0 = xr + kx * kxStep;
      for (int c = 0; c < C; c++) {
        v w0 = LD(wp);
        wp += 4;
        const f32 *q = p0 + c;
        MAC(a0, SPLAT(q), w0); q += pstep;
        MAC(a1, SPLAT(q), w0); q += pstep;
        MAC(a2, SPLAT(q), w0); q += pstep;
        MAC(a3, SPLAT(q), w0); q += pstep;
        MAC(a4, SPLAT(q), w0); q += pstep;
        MAC(a5, SPLAT(q), w0); q += pstep;
        MAC(a6, SPLAT(q), w0); q += pstep;
        MAC(a7, SPLAT(q), w0);
      }
    }
  }
  store_n(y, a0, nv); store_n(y + K, a1, nv); store_n(y + 2 * K, a2, nv); store_n(y + 3 * K, a3, nv);
  store_n(y + 4 * K, a4, nv); store_n(y + 5 * K, a5, nv); store_n(y + 6 * K, a6, nv); store_n(y + 7 * K, a7, nv);
}

/* 1 output pixel x 4 output channels (nv valid); weights 4 floats per row, ws floats apart. */
static inline void tile_p1_k4(const f32 *x0, int C, const f32 *wp, int ws, int KH, int KW, int rowStep, int kxStep, f32 *y, int nv) {
  v a0 = ZERO, a1 = ZERO;
  for (int ky = 0; ky < KH; ky++) {
    const f32 *xr = x0 + ky * rowStep;
    for (int kx = 0; kx < KW; kx++) {
      const f32 *p0 = xr + kx * kxStep;
      int c = 0;
      for (; c + 2 <= C; c += 2) {
        MAC(a0, SPLAT(p0 + c), LD(wp));
        MAC(a1, SPLAT(p0 + c + 1), LD(wp + ws));
        wp += 2 * ws;
      }
      if (c < C) {
        MAC(a0, SPLAT(p0 + c), LD(wp));
        wp += ws;
      }
    }
  }
  store_n(y, wasm_f32x4_add(a0, a1), nv);
}

/* wpk[b][r][0..bw) = w[r, b*bw + l] (0 beyond K) for the R = KH*KW*C filter rows. */
static void pack_panels(const f32 *w, int R, int K, int bw, f32 *wpk) {
  const int NP = (K + bw - 1) / bw;
  for (int b = 0; b < NP; b++) {
    const int k0 = b * bw;
    const int nv = K - k0 < bw ? K - k0 : bw;
    f32 *dst = wpk + (long)b * R * bw;
    for (int r = 0; r < R; r++) {
      const f32 *src = w + (long)r * K + k0;
      for (int l = 0; l < bw; l++) dst[r * bw + l] = l < nv ? src[l] : 0.0f;
    }
  }
}

EXPORT("conv_fwd")
void conv_fwd(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int K, int sh, int sw, int dh, int dw,
              f32 *y, int Ho, int Wo, f32 *wpk) {
  const int rowStride = Wb * C;
  const int rowStep = dh * rowStride;
  const int kxStep = dw * C;
  const int pstep = sw * C;
  const int R = KH * KW * C;
  const int bw = K % 8 == 0 ? 8 : 4;
  const int NP = (K + bw - 1) / bw;
  pack_panels(w, R, K, bw, wpk);
  /* Without horizontal dilation the (kx, c) inputs of a kernel row are
   * contiguous, as are their filter rows: one inner loop of KW*C. */
  const int Ci = dw == 1 ? KW * C : C;
  const int KWi = dw == 1 ? 1 : KW;
  for (int n = 0; n < N; n++) {
    for (int oy = 0; oy < Ho; oy++) {
      const f32 *xrow = xb + (long)(n * Hb + oy * sh) * rowStride;
      f32 *yrow = y + (long)(n * Ho + oy) * Wo * K;
      int ox = 0;
      if (bw == 8) {
        for (; ox + 4 <= Wo; ox += 4)
          for (int b = 0; b < NP; b++)
            tile_p4_k8(xrow + ox * pstep, pstep, Ci, wpk + (long)b * R * 8, KH, KWi, rowStep, kxStep, yrow + ox * K + b * 8, K);
        for (; ox < Wo; ox++)
          for (int b = 0; b < NP; b++) {
            const f32 *wp = wpk + (long)b * R * 8;
            tile_p1_k4(xrow + ox * pstep, Ci, wp, 8, KH, KWi, rowStep, kxStep, yrow + ox * K + b * 8, 4);
            tile_p1_k4(xrow + ox * pstep, Ci, wp + 4, 8, KH, KWi, rowStep, kxStep, yrow + ox * K + b * 8 + 4, 4);
          }
      } else {
        for (; ox + 8 <= Wo; ox += 8)
          for (int b = 0; b < NP; b++)
            tile_p8_k4(xrow + ox * pstep, pstep, Ci, wpk + (long)b * R * 4, KH, KWi, rowStep, kxStep, yrow + ox * K + b * 4, K,
                       K - b * 4 < 4 ? K - b * 4 : 4);
        for (; ox < Wo; ox++)
          for (int b = 0; b < NP; b++)
            tile_p1_k4(xrow + ox * pstep, Ci, wpk + (long)b * R * 4, 4, KH, KWi, rowStep, kxStep, yrow + ox * K + b * 4,
                       K - b * 4 < 4 ? K - b * 4 : 4);
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Filter gradient over an already padded input buffer xb[N, Hb, Wb, C]:
 * dwt[ky, kx, c, k] = sum_{n,oy,ox} xb[n, oy*sh + ky*dh, ox*sw + kx*dw, c] dy[n, oy, ox, k].
 * Tiles as in conv_fwd (K % 4 tail: scalar). With dw == 1 the (kx, c) pairs of one kernel row
 * are contiguous in memory (span KW*C), otherwise each tap is its own span C.
 * Output rows are accumulated one image row of dy at a time (L1-resident). */

static inline void dw_j4_k8(const f32 *xs, int pstep, const f32 *dyr, int Wo, int K, int co, f32 *acc) {
  /* acc: 4 rows (j) of K floats, at columns co..co+7 */
  v a00 = LD(acc + co), a01 = LD(acc + co + 4);
  v a10 = LD(acc + K + co), a11 = LD(acc + K + co + 4);
  v a20 = LD(acc + 2 * K + co), a21 = LD(acc + 2 * K + co + 4);
  v a30 = LD(acc + 3 * K + co), a31 = LD(acc + 3 * K + co + 4);
  const f32 *d = dyr + co;
  for (int ox = 0; ox < Wo; ox++) {
    v d0 = LD(d), d1 = LD(d + 4);
    d += K;
    v b0 = SPLAT(xs), b1 = SPLAT(xs + 1), b2 = SPLAT(xs + 2), b3 = SPLAT(xs + 3);
    xs += pstep;
    MAC(a00, b0, d0); MAC(a01, b0, d1);
    MAC(a10, b1, d0); MAC(a11, b1, d1);
    MAC(a20, b2, d0); MAC(a21, b2, d1);
    MAC(a30, b3, d0); MAC(a31, b3, d1);
  }
  ST(acc + co, a00); ST(acc + co + 4, a01);
  ST(acc + K + co, a10); ST(acc + K + co + 4, a11);
  ST(acc + 2 * K + co, a20); ST(acc + 2 * K + co + 4, a21);
  ST(acc + 3 * K + co, a30); ST(acc + 3 * K + co + 4, a31);
}

static inline void dw_j8_k4(const f32 *xs, int pstep, const f32 *dyr, int Wo, int K, int co, f32 *acc) {
  v a0 = LD(acc + co), a1 = LD(acc + K + co), a2 = LD(acc + 2 * K + co), a3 = LD(acc + 3 * K + co);
  v a4 = LD(acc + 4 * K + co), a5 = LD(acc + 5 * K + co), a6 = LD(acc + 6 * K + co), a7 = LD(acc + 7 * K + co);
  const f32 *d = dyr + co;
  for (int ox = 0; ox < Wo; ox++) {
    v d0 = LD(d);
    d += K;
    MAC(a0, SPLAT(xs), d0); MAC(a1, SPLAT(xs + 1), d0);
    MAC(a2, SPLAT(xs + 2), d0); MAC(a3, SPLAT(xs + 3), d0);
    MAC(a4, SPLAT(xs + 4), d0); MAC(a5, SPLAT(xs + 5), d0);
    MAC(a6, SPLAT(xs + 6), d0); MAC(a7, SPLAT(xs + 7), d0);
    xs += pstep;
  }
  ST(acc + co, a0); ST(acc + K + co, a1); ST(acc + 2 * K + co, a2); ST(acc + 3 * K + co, a3);
  ST(acc + 4 * K + co, a4); ST(acc + 5 * K + co, a5); ST(acc + 6 * K + co, a6); ST(acc + 7 * K + co, a7);
}

static inline void dw_j1_k4(const f32 *xs, int pstep, const f32 *dyr, int Wo, int K, int co, f32 *acc) {
  v a0 = LD(acc + co), a1 = ZERO;
  const f32 *d = dyr + co;
  int ox = 0;
  for (; ox + 2 <= Wo; ox += 2) {
    MAC(a0, SPLAT(xs), LD(d));
    MAC(a1, SPLAT(xs + pstep), LD(d + K));
    xs += 2 * pstep;
    d += 2 * K;
  }
  if (ox < Wo) MAC(a0, SPLAT(xs), LD(d));
  ST(acc + co, wasm_f32x4_add(a0, a1));
}

/* acc[l * K] += lane l of t, for lanes l >= from. */
static inline void add_lanes(f32 *o, int K, v t, int from) {
  if (from <= 0) o[0] += wasm_f32x4_extract_lane(t, 0);
  if (from <= 1) o[K] += wasm_f32x4_extract_lane(t, 1);
  if (from <= 2) o[2 * K] += wasm_f32x4_extract_lane(t, 2);
  o[3 * K] += wasm_f32x4_extract_lane(t, 3);
}

/* The last K - K4 (< 4) output channels of dw_span, vectorised over the span
 * instead: 4 consecutive (kx, c) entries are contiguous in xs, so one load
 * covers them; each tail channel keeps its own accumulator, added to acc
 * lane by lane at the end. When L % 4 != 0 the last block starts at L - 4
 * and adds only its lanes not yet covered; spans shorter than 4: scalar. */
static inline void dw_tail(const f32 *xs, int L, int pstep, const f32 *dyr, int Wo, int K, int K4, f32 *acc) {
  const int nt = K - K4;
  if (L >= 4) {
    for (int j = 0; j < L; j += 4) {
      int from = 0;
      if (j + 4 > L) {
        from = j - (L - 4);
        j = L - 4;
      }
      v t0 = ZERO, t1 = ZERO, t2 = ZERO;
      const f32 *q = xs + j;
      const f32 *d = dyr + K4;
      for (int ox = 0; ox < Wo; ox++, q += pstep, d += K) {
        v xv = LD(q);
        MAC(t0, xv, SPLAT(d));
        if (nt > 1) MAC(t1, xv, SPLAT(d + 1));
        if (nt > 2) MAC(t2, xv, SPLAT(d + 2));
      }
      f32 *o = acc + j * K + K4;
      add_lanes(o, K, t0, from);
      if (nt > 1) add_lanes(o + 1, K, t1, from);
      if (nt > 2) add_lanes(o + 2, K, t2, from);
    }
    return;
  }
  for (int j = 0; j < L; j++)
    for (int co = K4; co < K; co++) {
      f32 s = 0.0f;
      const f32 *q = xs + j;
      const f32 *d = dyr + co;
      for (int ox = 0; ox < Wo; ox++, q += pstep, d += K) s += *q * *d;
      acc[j * K + co] += s;
    }
}

/* One span of L contiguous (kx, c) entries starting at xs (per output pixel,
 * advancing by pstep), accumulated into acc rows [L, K]. */
static inline void dw_span(const f32 *xs, int L, int pstep, const f32 *dyr, int Wo, int K, f32 *acc) {
  const int K4 = K & ~3;
  int j = 0;
  if (K % 8 == 0) {
    for (; j + 4 <= L; j += 4)
      for (int co = 0; co < K; co += 8) dw_j4_k8(xs + j, pstep, dyr, Wo, K, co, acc + j * K);
  } else if (K4 > 0) {
    for (; j + 8 <= L; j += 8)
      for (int co = 0; co < K4; co += 4) dw_j8_k4(xs + j, pstep, dyr, Wo, K, co, acc + j * K);
  }
  for (; j < L; j++)
    for (int co = 0; co < K4; co += 4) dw_j1_k4(xs + j, pstep, dyr, Wo, K, co, acc + j * K);
  if (K4 < K) dw_tail(xs, L, pstep, dyr, Wo, K, K4, acc);
}

EXPORT("conv_dw")
void conv_dw(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *dy, int Ho, int Wo, int K, int KH, int KW, int sh, int sw, int dh,
             int dw, f32 *out) {
  const int rowStride = Wb * C;
  const int pstep = sw * C;
  __builtin_memset(out, 0, (unsigned long)KH * KW * C * K * sizeof(f32));
  for (int n = 0; n < N; n++) {
    for (int oy = 0; oy < Ho; oy++) {
      const f32 *dyr = dy + (long)(n * Ho + oy) * Wo * K;
      for (int ky = 0; ky < KH; ky++) {
        const f32 *xr = xb + (long)(n * Hb + oy * sh + ky * dh) * rowStride;
        f32 *acc = out + ky * KW * C * K;
        if (dw == 1) {
          dw_span(xr, KW * C, pstep, dyr, Wo, K, acc);
        } else {
          for (int kx = 0; kx < KW; kx++) dw_span(xr + kx * dw * C, C, pstep, dyr, Wo, K, acc + kx * C * K);
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Input gradient of a strided (or any) convolution by scatter:
 * dx[n, iy, ix, c] += sum_k dy[n, oy, ox, k] w[ky, kx, c, k]
 * for iy = oy*sh + ky*dh - pt, ix = ox*sw + kx*dw - pl inside [0,H) x [0,W).
 * wt is the filter with each tap transposed, wt[ky, kx, k, c] (see
 * transpose_taps). The dx row of one tap is accumulated in registers over k
 * and added to memory once (it stays in L1). */

EXPORT("transpose_taps")
void transpose_taps(const f32 *w, int T, int C, int K, f32 *wt) {
  for (int t = 0; t < T; t++) {
    const f32 *src = w + (long)t * C * K;
    f32 *dst = wt + (long)t * C * K;
    for (int c = 0; c < C; c++)
      for (int k = 0; k < K; k++) dst[k * C + c] = src[c * K + k];
  }
}

EXPORT("conv_dx_scatter")
void conv_dx_scatter(const f32 *dy, int N, int Ho, int Wo, int K, const f32 *wt, int KH, int KW, int C, int sh, int sw, int dh, int dw,
                     int pt, int pl, f32 *dx, int H, int W) {
  const int C8 = C & ~7;
  const int C4 = C & ~3;
  __builtin_memset(dx, 0, (unsigned long)N * H * W * C * sizeof(f32));
  for (int n = 0; n < N; n++) {
    for (int oy = 0; oy < Ho; oy++) {
      for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * sh + ky * dh - pt;
        if (iy < 0 || iy >= H) continue;
        f32 *dxrow = dx + (long)(n * H + iy) * W * C;
        for (int ox = 0; ox < Wo; ox++) {
          const f32 *d = dy + ((long)(n * Ho + oy) * Wo + ox) * K;
          for (int kx = 0; kx < KW; kx++) {
            const int ix = ox * sw + kx * dw - pl;
            if (ix < 0 || ix >= W) continue;
            f32 *o = dxrow + ix * C;
            const f32 *wk = wt + (long)(ky * KW + kx) * K * C;
            int c = 0;
            for (; c < C8; c += 8) {
              v a0 = ZERO, a1 = ZERO, b0 = ZERO, b1 = ZERO;
              const f32 *q = wk + c;
              int k = 0;
              for (; k + 2 <= K; k += 2, q += 2 * C) {
                v s0 = SPLAT(d + k), s1 = SPLAT(d + k + 1);
                MAC(a0, s0, LD(q)); MAC(a1, s0, LD(q + 4));
                MAC(b0, s1, LD(q + C)); MAC(b1, s1, LD(q + C + 4));
              }
              if (k < K) {
                v s0 = SPLAT(d + k);
                MAC(a0, s0, LD(q)); MAC(a1, s0, LD(q + 4));
              }
              ST(o + c, wasm_f32x4_add(LD(o + c), wasm_f32x4_add(a0, b0)));
              ST(o + c + 4, wasm_f32x4_add(LD(o + c + 4), wasm_f32x4_add(a1, b1)));
            }
            for (; c < C4; c += 4) {
              v a0 = ZERO;
              const f32 *q = wk + c;
              for (int k = 0; k < K; k++, q += C) MAC(a0, SPLAT(d + k), LD(q));
              ST(o + c, wasm_f32x4_add(LD(o + c), a0));
            }
            for (; c < C; c++) {
              f32 s = 0.0f;
              const f32 *q = wk + c;
              for (int k = 0; k < K; k++, q += C) s += d[k] * *q;
              o[c] += s;
            }
          }
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Per-channel reductions and affine maps over x[P, C] (channels last), for
 * BatchNorm, bias adds and bias gradients.
 *
 * Rows are processed in groups of G = W / C rows, W = C when C % 4 == 0 and
 * 4C otherwise (a multiple of 4), so the loops run 4-wide SIMD whatever C is
 * (C = 2 or 3 in narrow networks): per-channel vectors (sub, mean, sa, sb,
 * shift) are passed tiled to W floats (see tile_width in JS), and the last
 * P % G rows use their first C entries. Partial sums of ~256 rows are kept in
 * float32 (part[W]) and folded into double accumulators (acc[C]), which
 * bounds the float32 error. */

#define BLOCK 256

static inline int tile_w(int C) { return (C & 3) == 0 ? C : 4 * C; }

static inline void fold(f32 *part, int W, int C, double *acc) {
  for (int i = 0, c = 0; i < W; i++) {
    acc[c] += (double)part[i];
    part[i] = 0.0f;
    if (++c == C) c = 0;
  }
}

/* acc[c] = sum_p x[p, c]; with sub != 0 (tiled): acc[c] = sum_p (x[p, c] - sub[c])^2. part: W floats. */
EXPORT("chan_sum")
void chan_sum(const f32 *x, int P, int C, const f32 *sub, double *acc, f32 *part) {
  const int W = tile_w(C), G = W / C, groups = P / G, gb = BLOCK / G;
  for (int c = 0; c < C; c++) acc[c] = 0.0;
  for (int i = 0; i < W; i++) part[i] = 0.0f;
  for (int g0 = 0; g0 < groups; g0 += gb) {
    const int g1 = g0 + gb < groups ? g0 + gb : groups;
    for (int g = g0; g < g1; g++) {
      const f32 *r = x + (long)g * W;
      for (int i = 0; i < W; i += 4) {
        v t = LD(r + i);
        if (sub) {
          t = wasm_f32x4_sub(t, LD(sub + i));
          t = wasm_f32x4_mul(t, t);
        }
        ST(part + i, wasm_f32x4_add(LD(part + i), t));
      }
    }
    fold(part, W, C, acc);
  }
  for (int p = groups * G; p < P; p++) {
    const f32 *r = x + (long)p * C;
    for (int c = 0; c < C; c++) {
      f32 t = r[c];
      if (sub) { t -= sub[c]; t *= t; }
      acc[c] += (double)t;
    }
  }
}

/* BatchNorm backward sums: acc[c] = sum_p dy[p, c], acc2[c] = sum_p dy[p, c] (x[p, c] - mean[c]);
 * mean tiled to W floats; part holds 2W floats. */
EXPORT("bn_grad_sums")
void bn_grad_sums(const f32 *dy, const f32 *x, const f32 *mean, int P, int C, double *acc, double *acc2, f32 *part) {
  const int W = tile_w(C), G = W / C, groups = P / G, gb = BLOCK / G;
  f32 *part2 = part + W;
  for (int c = 0; c < C; c++) acc[c] = acc2[c] = 0.0;
  for (int i = 0; i < W; i++) part[i] = part2[i] = 0.0f;
  for (int g0 = 0; g0 < groups; g0 += gb) {
    const int g1 = g0 + gb < groups ? g0 + gb : groups;
    for (int g = g0; g < g1; g++) {
      const f32 *d = dy + (long)g * W, *r = x + (long)g * W;
      for (int i = 0; i < W; i += 4) {
        v gv = LD(d + i);
        v xc = wasm_f32x4_sub(LD(r + i), LD(mean + i));
        ST(part + i, wasm_f32x4_add(LD(part + i), gv));
        ST(part2 + i, wasm_f32x4_add(LD(part2 + i), wasm_f32x4_mul(gv, xc)));
      }
    }
    fold(part, W, C, acc);
    fold(part2, W, C, acc2);
  }
  for (int p = groups * G; p < P; p++) {
    const f32 *d = dy + (long)p * C, *r = x + (long)p * C;
    for (int c = 0; c < C; c++) {
      acc[c] += (double)d[c];
      acc2[c] += (double)(d[c] * (r[c] - mean[c]));
    }
  }
}

/* out[p, c] = a[p, c] sa[c] + shift[c] (+ b[p, c] sb[c] when b != 0); sa == 0: no scaling
 * (out = a + shift exactly, a bias add). sa, sb, shift tiled to W floats. */
EXPORT("chan_affine")
void chan_affine(const f32 *a, const f32 *sa, const f32 *b, const f32 *sb, const f32 *shift, int P, int C, f32 *out) {
  const int W = tile_w(C), G = W / C, groups = P / G;
  for (int g = 0; g < groups; g++) {
    const f32 *ra = a + (long)g * W;
    f32 *ro = out + (long)g * W;
    if (b) {
      const f32 *rb = b + (long)g * W;
      for (int i = 0; i < W; i += 4)
        ST(ro + i, wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(LD(ra + i), LD(sa + i)), wasm_f32x4_mul(LD(rb + i), LD(sb + i))), LD(shift + i)));
    } else if (sa) {
      for (int i = 0; i < W; i += 4) ST(ro + i, wasm_f32x4_add(wasm_f32x4_mul(LD(ra + i), LD(sa + i)), LD(shift + i)));
    } else {
      for (int i = 0; i < W; i += 4) ST(ro + i, wasm_f32x4_add(LD(ra + i), LD(shift + i)));
    }
  }
  for (int p = groups * G; p < P; p++) {
    const f32 *ra = a + (long)p * C;
    f32 *ro = out + (long)p * C;
    for (int c = 0; c < C; c++) {
      if (b) ro[c] = ra[c] * sa[c] + b[(long)p * C + c] * sb[c] + shift[c];
      else if (sa) ro[c] = ra[c] * sa[c] + shift[c];
      else ro[c] = ra[c] + shift[c];
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Depthwise conv filter gradient, channel multiplier 1, over a padded input
 * buffer xb[N, Hb, Wb, C]:
 * out[ky, kx, c] = sum_{n,oy,ox} xb[n, oy*sh + ky*dh, ox*sw + kx*dw, c] dy[n, oy, ox, c]. */
EXPORT("dw_conv_dw")
void dw_conv_dw(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *dy, int Ho, int Wo, int KH, int KW, int sh, int sw, int dh, int dw,
                f32 *out) {
  const int C4 = C & ~3;
  const int pstep = sw * C;
  __builtin_memset(out, 0, (unsigned long)KH * KW * C * sizeof(f32));
  for (int n = 0; n < N; n++) {
    for (int oy = 0; oy < Ho; oy++) {
      const f32 *dyr = dy + (long)(n * Ho + oy) * Wo * C;
      for (int ky = 0; ky < KH; ky++) {
        const f32 *xr = xb + (long)(n * Hb + oy * sh + ky * dh) * Wb * C;
        for (int kx = 0; kx < KW; kx++) {
          const f32 *xs = xr + kx * dw * C;
          f32 *o = out + (ky * KW + kx) * C;
          int c = 0;
          for (; c < C4; c += 4) {
            v a0 = ZERO, a1 = ZERO;
            const f32 *q = xs + c, *d = dyr + c;
            int ox = 0;
            for (; ox + 2 <= Wo; ox += 2, q += 2 * pstep, d += 2 * C) {
              MAC(a0, LD(q), LD(d));
              MAC(a1, LD(q + pstep), LD(d + C));
            }
            if (ox < Wo) MAC(a0, LD(q), LD(d));
            ST(o + c, wasm_f32x4_add(LD(o + c), wasm_f32x4_add(a0, a1)));
          }
          for (; c < C; c++) {
            f32 s = 0.0f;
            const f32 *q = xs + c, *d = dyr + c;
            for (int ox = 0; ox < Wo; ox++, q += pstep, d += C) s += *q * *d;
            o[c] += s;
          }
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* PReLU gradient with a per-channel slope alpha[C] over x[P, C]:
 * dx = dy where x > 0, alpha dy elsewhere; dalpha[c] = sum_{x <= 0} dy x
 * (float32 partials per 256 rows, float64 totals in acc[C]; part: C floats). */
EXPORT("prelu_grad")
void prelu_grad(const f32 *dy, const f32 *x, const f32 *alpha, int P, int C, f32 *dx, double *acc, f32 *part) {
  for (int c = 0; c < C; c++) { acc[c] = 0.0; part[c] = 0.0f; }
  for (int p0 = 0; p0 < P; p0 += BLOCK) {
    int p1 = p0 + BLOCK < P ? p0 + BLOCK : P;
    if ((C & 3) == 0) {
      for (int p = p0; p < p1; p++) {
        const f32 *d = dy + (long)p * C, *r = x + (long)p * C;
        f32 *o = dx + (long)p * C;
        for (int c = 0; c < C; c += 4) {
          v g = LD(d + c), xv = LD(r + c);
          v pos = wasm_f32x4_gt(xv, ZERO);
          ST(o + c, wasm_v128_bitselect(g, wasm_f32x4_mul(g, LD(alpha + c)), pos));
          ST(part + c, wasm_f32x4_add(LD(part + c), wasm_v128_andnot(wasm_f32x4_mul(g, xv), pos)));
        }
      }
    } else {
      for (int p = p0; p < p1; p++) {
        const f32 *d = dy + (long)p * C, *r = x + (long)p * C;
        f32 *o = dx + (long)p * C;
        for (int c = 0; c < C; c++) {
          if (r[c] > 0.0f) {
            o[c] = d[c];
          } else {
            o[c] = d[c] * alpha[c];
            part[c] += d[c] * r[c];
          }
        }
      }
    }
    fold(part, C, C, acc);
  }
}

/* ------------------------------------------------------------------------ */
/* Batched matrix product out[b] = A[b] B[b]. A[b] is M x K read with strides
 * (element (i, k) at a + i*ars + k*acs: row-major, or transposed in place);
 * B[b] is K x N row-major, or N x K when transB. aStride / bStride are the
 * per-batch offsets in floats (0 broadcasts one matrix over the batch); out
 * is M x N row-major per batch. B is packed into column panels of 8,
 * bp[jb][k][0..7] (zero-padded), so the 4-row x 8-column register tile reads
 * it sequentially; bp holds K * ceil(N/8) * 8 floats. */

static void pack_b(const f32 *B, int transB, int K, int N, f32 *bp) {
  const int NB = (N + 7) >> 3;
  for (int jb = 0; jb < NB; jb++) {
    f32 *dst = bp + (long)jb * K * 8;
    const int j0 = jb * 8;
    const int w = N - j0 < 8 ? N - j0 : 8;
    if (!transB && w == 8) {
      for (int k = 0; k < K; k++) ST(dst + k * 8, LD(B + (long)k * N + j0)), ST(dst + k * 8 + 4, LD(B + (long)k * N + j0 + 4));
    } else {
      for (int k = 0; k < K; k++)
        for (int jj = 0; jj < 8; jj++) dst[k * 8 + jj] = jj < w ? (transB ? B[(long)(j0 + jj) * K + k] : B[(long)k * N + j0 + jj]) : 0.0f;
    }
  }
}

static inline void store_row8(f32 *o, v lo, v hi, int w) {
  if (w == 8) {
    ST(o, lo);
    ST(o + 4, hi);
  } else if (w > 4) {
    ST(o, lo);
    store_n(o + 4, hi, w - 4);
  } else {
    store_n(o, lo, w);
  }
}

/* Load the first w (<= 8) floats of a row as two vectors (zeros beyond w). */
static inline void load_row8(const f32 *o, int w, v *lo, v *hi) {
  if (w == 8) {
    *lo = LD(o);
    *hi = LD(o + 4);
  } else if (w > 4) {
    *lo = LD(o);
    *hi = load_n(o + 4, w - 4);
  } else {
    *lo = w == 4 ? LD(o) : load_n(o, w);
    *hi = ZERO;
  }
}

/* 4 rows x 8 columns over K; acc: add to what o holds (later K blocks). */
static inline void mm_r4_p8(const f32 *a, int ars, int acs, const f32 *p, int ps, int K, f32 *o, int N, int w, int acc) {
  v a00 = ZERO, a01 = ZERO, a10 = ZERO, a11 = ZERO, a20 = ZERO, a21 = ZERO, a30 = ZERO, a31 = ZERO;
  if (acc) {
    load_row8(o, w, &a00, &a01);
    load_row8(o + N, w, &a10, &a11);
    load_row8(o + 2 * N, w, &a20, &a21);
    load_row8(o + 3 * N, w, &a30, &a31);
  }
  const f32 *a0 = a, *a1 = a + ars, *a2 = a + 2 * ars, *a3 = a + 3 * ars;
  for (int k = 0; k < K; k++, p += ps) {
    v b0 = LD(p), b1 = LD(p + 4);
    const int ko = k * acs;
    v s0 = SPLAT(a0 + ko), s1 = SPLAT(a1 + ko), s2 = SPLAT(a2 + ko), s3 = SPLAT(a3 + ko);
    MAC(a00, s0, b0); MAC(a01, s0, b1);
    MAC(a10, s1, b0); MAC(a11, s1, b1);
    MAC(a20, s2, b0); MAC(a21, s2, b1);
    MAC(a30, s3, b0); MAC(a31, s3, b1);
  }
  store_row8(o, a00, a01, w);
  store_row8(o + N, a10, a11, w);
  store_row8(o + 2 * N, a20, a21, w);
  store_row8(o + 3 * N, a30, a31, w);
}

static inline void mm_r1_p8(const f32 *a, int acs, const f32 *p, int ps, int K, f32 *o, int w, int acc) {
  v a00 = ZERO, a01 = ZERO;
  if (acc) load_row8(o, w, &a00, &a01);
  for (int k = 0; k < K; k++, p += ps) {
    v s0 = SPLAT(a + k * acs);
    MAC(a00, s0, LD(p)); MAC(a01, s0, LD(p + 4));
  }
  store_row8(o, a00, a01, w);
}

/* N <= 4 with A stored transposed (ars == 1: rows i..i+3 of one column k are
 * contiguous): 4 rows per vector, one accumulator per output column, B read
 * unpacked; out[i, j] written lane by lane. */
static void mm_narrow_ta(const f32 *A, int acs, const f32 *B, int transB, int M, int K, int N, f32 *O) {
  int i = 0;
  if (N == 1) /* a matrix-vector product: 16 rows per pass read whole cache lines of A */
    for (; i + 16 <= M; i += 16) {
      v c0 = ZERO, c1 = ZERO, c2 = ZERO, c3 = ZERO;
      const f32 *ap = A + i;
      for (int k = 0; k < K; k++, ap += acs) {
        v bk = SPLAT(B + k);
        MAC(c0, LD(ap), bk); MAC(c1, LD(ap + 4), bk); MAC(c2, LD(ap + 8), bk); MAC(c3, LD(ap + 12), bk);
      }
      ST(O + i, c0); ST(O + i + 4, c1); ST(O + i + 8, c2); ST(O + i + 12, c3);
    }
  for (; i + 4 <= M; i += 4) {
    v c0 = ZERO, c1 = ZERO, c2 = ZERO, c3 = ZERO;
    const f32 *ap = A + i;
    for (int k = 0; k < K; k++, ap += acs) {
      v av = LD(ap);
      const f32 *bk = transB ? B + k : B + (long)k * N;
      const int bs = transB ? K : 1;
      MAC(c0, av, SPLAT(bk));
      if (N > 1) MAC(c1, av, SPLAT(bk + bs));
      if (N > 2) MAC(c2, av, SPLAT(bk + 2 * bs));
      if (N > 3) MAC(c3, av, SPLAT(bk + 3 * bs));
    }
    f32 *o = O + (long)i * N;
    o[0] = wasm_f32x4_extract_lane(c0, 0); o[N] = wasm_f32x4_extract_lane(c0, 1);
    o[2 * N] = wasm_f32x4_extract_lane(c0, 2); o[3 * N] = wasm_f32x4_extract_lane(c0, 3);
    if (N > 1) { o[1] = wasm_f32x4_extract_lane(c1, 0); o[N + 1] = wasm_f32x4_extract_lane(c1, 1); o[2 * N + 1] = wasm_f32x4_extract_lane(c1, 2); o[3 * N + 1] = wasm_f32x4_extract_lane(c1, 3); }
    if (N > 2) { o[2] = wasm_f32x4_extract_lane(c2, 0); o[N + 2] = wasm_f32x4_extract_lane(c2, 1); o[2 * N + 2] = wasm_f32x4_extract_lane(c2, 2); o[3 * N + 2] = wasm_f32x4_extract_lane(c2, 3); }
    if (N > 3) { o[3] = wasm_f32x4_extract_lane(c3, 0); o[N + 3] = wasm_f32x4_extract_lane(c3, 1); o[2 * N + 3] = wasm_f32x4_extract_lane(c3, 2); o[3 * N + 3] = wasm_f32x4_extract_lane(c3, 3); }
  }
  for (; i < M; i++)
    for (int j = 0; j < N; j++) {
      f32 s = 0.0f;
      for (int k = 0; k < K; k++) s += A[i + (long)k * acs] * (transB ? B[(long)j * K + k] : B[(long)k * N + j]);
      O[(long)i * N + j] = s;
    }
}

/* K is processed in blocks of KC (each block after the first adds to the
 * output), so that a row tile's slice of A (4 x KC) stays in L1 while it
 * meets every column panel, and the block of packed B (KC x N) in L2. */
#define KC 256

/* Rows k0.. of column panel jb: B itself (direct: row-major, stride N) or its packed copy (stride 8). */
static inline const f32 *panel(int direct, const f32 *B, const f32 *bp, int jb, int k0, int K, int N) {
  return direct ? B + (long)k0 * N + jb * 8 : bp + (long)jb * K * 8 + (long)k0 * 8;
}
#define NCP 8

EXPORT("matmul")
void matmul(const f32 *a, int aStride, int ars, int acs, const f32 *b, int bStride, int transB, f32 *bp, f32 *out, int batch, int M, int K,
            int N) {
  const int NB = (N + 7) >> 3;
  for (int bi = 0; bi < batch; bi++) {
    const f32 *A = a + (long)bi * aStride;
    f32 *O = out + (long)bi * M * N;
    if (N <= 4 && ars == 1 && M >= 4) {
      mm_narrow_ta(A, acs, b + (long)bi * bStride, transB, M, K, N, O);
      continue;
    }
    /* Few rows: packing B would cost as much as the product; a row-major B
     * whose width is a multiple of 8 is read in place (panel stride N). */
    const int direct = !transB && (N & 7) == 0 && M <= 64;
    const f32 *Bb = b + (long)bi * bStride;
    if (!direct && (bi == 0 || bStride != 0)) pack_b(Bb, transB, K, N, bp);
    const int ps = direct ? N : 8;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = K - k0 < KC ? K - k0 : KC;
      const int acc = k0 > 0;
      const f32 *Ak = A + (long)k0 * acs;
      /* Groups of NCP panels; in a group, row tile outside, panels inside:
       * the tile's A block (4 x kc) stays in L1 across the group's panels,
       * the group's block of B (kc x 8 NCP floats, 64 KB) in L2. */
      for (int g0 = 0; g0 < NB; g0 += NCP) {
        const int g1 = g0 + NCP < NB ? g0 + NCP : NB;
        int i = 0;
        for (; i + 4 <= M; i += 4)
          for (int jb = g0; jb < g1; jb++) {
            const int j0 = jb * 8;
            mm_r4_p8(Ak + (long)i * ars, ars, acs, panel(direct, Bb, bp, jb, k0, K, N), ps, kc, O + (long)i * N + j0, N, N - j0 < 8 ? N - j0 : 8, acc);
          }
        for (; i < M; i++)
          for (int jb = g0; jb < g1; jb++) {
            const int j0 = jb * 8;
            mm_r1_p8(Ak + (long)i * ars, acs, panel(direct, Bb, bp, jb, k0, K, N), ps, kc, O + (long)i * N + j0, N - j0 < 8 ? N - j0 : 8, acc);
          }
      }
    }
  }
}

EXPORT("bias_act")
void bias_act(f32 *x, int R, int N, const f32 *bias, int relu) {
  const int N4 = N & ~3;
  for (int r = 0; r < R; r++) {
    f32 *row = x + (long)r * N;
    int j = 0;
    for (; j < N4; j += 4) {
      v t = LD(row + j);
      if (bias) t = wasm_f32x4_add(t, LD(bias + j));
      if (relu) t = wasm_v128_and(t, wasm_f32x4_gt(t, ZERO));
      ST(row + j, t);
    }
    for (; j < N; j++) {
      f32 t = row[j] + (bias ? bias[j] : 0.0f);
      row[j] = relu && !(t > 0.0f) ? 0.0f : t;
    }
  }
}

/* ReLU gradient over n elements, as tfjs-core's dy * step(x): dy where x > 0,
 * dy * 0 elsewhere (a signed zero), NaN where x is NaN. */
EXPORT("relu_grad")
void relu_grad(const f32 *dy, const f32 *x, f32 *dx, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v g = LD(dy + i), xv = LD(x + i);
    v r = wasm_v128_bitselect(g, wasm_f32x4_mul(g, ZERO), wasm_f32x4_gt(xv, ZERO));
    ST(dx + i, wasm_v128_bitselect(xv, r, wasm_f32x4_ne(xv, xv)));
  }
  for (; i < n; i++) {
    f32 xv = x[i];
    dx[i] = xv != xv ? xv : xv > 0.0f ? dy[i] : dy[i] * 0.0f;
  }
}

/* ------------------------------------------------------------------------ */
/* Exact GELU x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) and its derivative,
 * elementwise over n floats, 4-wide. erf is tfjs' own (Abramowitz & Stegun
 * 7.1.26, |error| < 1.5e-7, the formula of tfjs' Erf kernels); exp is a
 * Cephes-style expf (Cody-Waite reduction, degree-5 polynomial, ~1 ulp).
 * The derivative is the analytic Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi),
 * as tfjs' Erf gradient (exact exp) gives. */

#define SPL(c) wasm_f32x4_splat(c)

static inline v v_exp(v x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, SPL(-87.3f)), SPL(88.3f));
  v fx = wasm_f32x4_nearest(wasm_f32x4_mul(x, SPL(1.44269504088896341f)));
  v r = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, SPL(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(fx, SPL(2.12194440e-4f)));
  v y = SPL(1.9875691500e-4f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), SPL(1.3981999507e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), SPL(8.3334519073e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), SPL(4.1665795894e-2f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), SPL(1.6666665459e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), SPL(5.0000001201e-1f));
  y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(y, r), r), r), SPL(1.0f));
  v n = wasm_i32x4_trunc_sat_f32x4(fx);
  v scale = wasm_i32x4_shl(wasm_i32x4_add(n, wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(y, scale);
}

/* erf(z) by A&S 7.1.26 (tfjs' ERF_P, ERF_A1..A5), given e = exp(-z^2). */
static inline v v_erf_e(v z, v e) {
  v az = wasm_f32x4_abs(z);
  v t = wasm_f32x4_div(SPL(1.0f), wasm_f32x4_add(SPL(1.0f), wasm_f32x4_mul(SPL(0.3275911f), az)));
  v p = SPL(1.061405429f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), SPL(-1.453152027f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), SPL(1.421413741f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), SPL(-0.284496736f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), SPL(0.254829592f));
  p = wasm_f32x4_mul(p, t);
  v y = wasm_f32x4_sub(SPL(1.0f), wasm_f32x4_mul(p, e));
  /* sign(z) y, and erf(0) = 0 exactly (tfjs: sign(0) = 0) */
  y = wasm_v128_or(y, wasm_v128_and(z, wasm_i32x4_splat((int)0x80000000)));
  return wasm_v128_andnot(y, wasm_f32x4_eq(z, SPL(0.0f)));
}

EXPORT("gelu_fwd")
void gelu_fwd(const f32 *x, f32 *y, int n) {
  for (int i = 0; i < n; i += 4) {
    const int m = n - i < 4 ? n - i : 4;
    v xv = m == 4 ? LD(x + i) : load_n(x + i, m);
    v z = wasm_f32x4_mul(xv, SPL(0.70710678118654752f));
    v e = v_exp(wasm_f32x4_neg(wasm_f32x4_mul(z, z)));
    store_n(y + i, wasm_f32x4_mul(wasm_f32x4_mul(xv, SPL(0.5f)), wasm_f32x4_add(SPL(1.0f), v_erf_e(z, e))), m);
  }
}

/* exp(-z^2) = exp(-x^2 / 2): one exp serves erf and the density. */
EXPORT("gelu_bwd")
void gelu_bwd(const f32 *dy, const f32 *x, f32 *dx, int n) {
  for (int i = 0; i < n; i += 4) {
    const int m = n - i < 4 ? n - i : 4;
    v xv = m == 4 ? LD(x + i) : load_n(x + i, m);
    v g = m == 4 ? LD(dy + i) : load_n(dy + i, m);
    v z = wasm_f32x4_mul(xv, SPL(0.70710678118654752f));
    v e = v_exp(wasm_f32x4_neg(wasm_f32x4_mul(z, z)));
    v cdf = wasm_f32x4_mul(SPL(0.5f), wasm_f32x4_add(SPL(1.0f), v_erf_e(z, e)));
    v pdf = wasm_f32x4_mul(e, SPL(0.39894228040143268f));
    store_n(dx + i, wasm_f32x4_mul(g, wasm_f32x4_add(cdf, wasm_f32x4_mul(xv, pdf))), m);
  }
}

/* ------------------------------------------------------------------------ */
/* Max-pool gradient: dx[N,H,W,C] (zeroed here) gets each dy[n,oh,ow,c] at the
 * first entry (row-major window order) of its window equal to the pooled
 * maximum y[n,oh,ow,c] (the forward output), as tfjs' CPU backend routes it.
 * Windows start at (oh*sh - pt, ow*sw - pl), KH x KW, clipped to the input.
 * Returns the number of (window, channel) pairs with no such entry (NaN
 * windows): the caller then recomputes with the CPU backend's comparison. */
EXPORT("max_pool_grad")
int max_pool_grad(const f32 *x, const f32 *y, const f32 *dy, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw,
                  int pt, int pl, f32 *dx) {
  __builtin_memset(dx, 0, (unsigned long)N * H * W * C * sizeof(f32));
  const int C4 = C & ~3;
  int missing = 0;
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < OH; oh++) {
      const int h0 = oh * sh - pt;
      const int hLo = h0 < 0 ? 0 : h0, hHi = h0 + KH < H ? h0 + KH : H;
      for (int ow = 0; ow < OW; ow++) {
        const int w0 = ow * sw - pl;
        const int wLo = w0 < 0 ? 0 : w0, wHi = w0 + KW < W ? w0 + KW : W;
        const long o = ((long)(n * OH + oh) * OW + ow) * C;
        for (int c = 0; c < C4; c += 4) {
          v m = LD(y + o + c), g = LD(dy + o + c);
          v found = wasm_i32x4_splat(0);
          for (int ih = hLo; ih < hHi && !wasm_i32x4_all_true(found); ih++) {
            long b = ((long)(n * H + ih) * W + wLo) * C + c;
            for (int iw = wLo; iw < wHi; iw++, b += C) {
              v hit = wasm_v128_andnot(wasm_f32x4_eq(LD(x + b), m), found);
              if (wasm_v128_any_true(hit)) {
                ST(dx + b, wasm_f32x4_add(LD(dx + b), wasm_v128_and(g, hit)));
                found = wasm_v128_or(found, hit);
                if (wasm_i32x4_all_true(found)) break;
              }
            }
          }
          missing += 4 - __builtin_popcount(wasm_i32x4_bitmask(found));
        }
        for (int c = C4; c < C; c++) {
          const f32 m = y[o + c];
          int done = 0;
          for (int ih = hLo; ih < hHi && !done; ih++) {
            long b = ((long)(n * H + ih) * W + wLo) * C + c;
            for (int iw = wLo; iw < wHi; iw++, b += C)
              if (x[b] == m) {
                dx[b] += dy[o + c];
                done = 1;
                break;
              }
          }
          if (!done) missing++;
        }
      }
    }
  return missing;
}

/* ------------------------------------------------------------------------ */
/* LayerNorm over the last axis of x[R, C] (PyTorch's nn.LayerNorm: biased
 * variance, eps inside the square root), per row in float32, two passes:
 *   mean = sum x / C, var = sum (x - mean)^2 / C, rstd = 1 / sqrt(var + eps)
 *   xhat = (x - mean) rstd, y = xhat gamma + beta      (xhat, rstd kept for the gradient)
 * Backward, g = dy gamma:  dx = rstd (g - mean(g) - xhat mean(g xhat)). */

static inline f32 hsum(v x) {
  return wasm_f32x4_extract_lane(x, 0) + wasm_f32x4_extract_lane(x, 1) + wasm_f32x4_extract_lane(x, 2) + wasm_f32x4_extract_lane(x, 3);
}

EXPORT("layer_norm_fwd")
void layer_norm_fwd(const f32 *x, int R, int C, const f32 *gamma, const f32 *beta, f32 eps, f32 *y, f32 *xhat, f32 *rstd) {
  const int C4 = C & ~3;
  const f32 invC = 1.0f / (f32)C;
  for (int r = 0; r < R; r++) {
    const f32 *xr = x + (long)r * C;
    f32 *yr = y + (long)r * C, *hr = xhat + (long)r * C;
    v s = ZERO;
    int c = 0;
    for (; c < C4; c += 4) s = wasm_f32x4_add(s, LD(xr + c));
    f32 sum = hsum(s);
    for (; c < C; c++) sum += xr[c];
    const f32 mean = sum * invC;
    const v mv = wasm_f32x4_splat(mean);
    s = ZERO;
    for (c = 0; c < C4; c += 4) {
      v d = wasm_f32x4_sub(LD(xr + c), mv);
      s = wasm_f32x4_add(s, wasm_f32x4_mul(d, d));
    }
    f32 sq = hsum(s);
    for (; c < C; c++) sq += (xr[c] - mean) * (xr[c] - mean);
    const f32 rs = 1.0f / __builtin_sqrtf(sq * invC + eps);
    rstd[r] = rs;
    const v rv = wasm_f32x4_splat(rs);
    for (c = 0; c < C4; c += 4) {
      v h = wasm_f32x4_mul(wasm_f32x4_sub(LD(xr + c), mv), rv);
      ST(hr + c, h);
      ST(yr + c, wasm_f32x4_add(wasm_f32x4_mul(h, LD(gamma + c)), LD(beta + c)));
    }
    for (; c < C; c++) {
      const f32 h = (xr[c] - mean) * rs;
      hr[c] = h;
      yr[c] = h * gamma[c] + beta[c];
    }
  }
}

EXPORT("layer_norm_bwd")
void layer_norm_bwd(const f32 *dy, const f32 *xhat, const f32 *rstd, const f32 *gamma, int R, int C, f32 *dx) {
  const int C4 = C & ~3;
  const f32 invC = 1.0f / (f32)C;
  for (int r = 0; r < R; r++) {
    const f32 *dr = dy + (long)r * C, *hr = xhat + (long)r * C;
    f32 *or = dx + (long)r * C;
    v s1 = ZERO, s2 = ZERO;
    int c = 0;
    for (; c < C4; c += 4) {
      v g = wasm_f32x4_mul(LD(dr + c), LD(gamma + c));
      s1 = wasm_f32x4_add(s1, g);
      s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(g, LD(hr + c)));
    }
    f32 a = hsum(s1), b = hsum(s2);
    for (; c < C; c++) {
      const f32 g = dr[c] * gamma[c];
      a += g;
      b += g * hr[c];
    }
    const v ma = wasm_f32x4_splat(a * invC), mb = wasm_f32x4_splat(b * invC), rv = wasm_f32x4_splat(rstd[r]);
    for (c = 0; c < C4; c += 4) {
      v g = wasm_f32x4_mul(LD(dr + c), LD(gamma + c));
      ST(or + c, wasm_f32x4_mul(rv, wasm_f32x4_sub(wasm_f32x4_sub(g, ma), wasm_f32x4_mul(LD(hr + c), mb))));
    }
    for (; c < C; c++) or[c] = rstd[r] * (dr[c] * gamma[c] - a * invC - hr[c] * (b * invC));
  }
}

/* ------------------------------------------------------------------------ */
/* Average-pool gradient as tfjs' CPU backend defines it: every input pixel
 * gets the sum of dy over the windows that cover it (padding cells are never
 * written), times mult = 1 / (KH KW) (a constant, also for clipped windows).
 * Scatter form: dx (zeroed) += dy over each window, then one scaling pass. */
EXPORT("avg_pool_grad")
void avg_pool_grad(const f32 *dy, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw, int pt, int pl, f32 mult,
                   f32 *dx) {
  const long total = (long)N * H * W * C;
  __builtin_memset(dx, 0, (unsigned long)total * sizeof(f32));
  const int C4 = C & ~3;
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < OH; oh++) {
      const int h0 = oh * sh - pt;
      const int hLo = h0 < 0 ? 0 : h0, hHi = h0 + KH < H ? h0 + KH : H;
      for (int ow = 0; ow < OW; ow++) {
        const int w0 = ow * sw - pl;
        const int wLo = w0 < 0 ? 0 : w0, wHi = w0 + KW < W ? w0 + KW : W;
        const f32 *g = dy + ((long)(n * OH + oh) * OW + ow) * C;
        for (int ih = hLo; ih < hHi; ih++) {
          f32 *row = dx + ((long)(n * H + ih) * W) * C;
          for (int iw = wLo; iw < wHi; iw++) {
            f32 *o = row + (long)iw * C;
            int c = 0;
            for (; c < C4; c += 4) ST(o + c, wasm_f32x4_add(LD(o + c), LD(g + c)));
            for (; c < C; c++) o[c] += g[c];
          }
        }
      }
    }
  const v m = wasm_f32x4_splat(mult);
  long i = 0;
  for (; i + 4 <= total; i += 4) ST(dx + i, wasm_f32x4_mul(LD(dx + i), m));
  for (; i < total; i++) dx[i] *= mult;
}
