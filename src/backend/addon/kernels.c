/*
 * medfl's native CPU kernels (Node-API addon, see ./addon.c and
 * scripts/build-addon.js): the conv forward / filter gradient / input
 * gradient, matrix product and a few memory-bound passes of
 * src/backend/native/kernels.c, written once over GCC vector extensions of
 * VW floats and compiled several times (VW = 16 with AVX-512, 8 with AVX2 +
 * FMA, 4 with AVX2 + FMA for channel counts that are not multiples of 8, 4
 * with the baseline ISA); addon.c picks one per call at run time.
 *
 * Pointers address the tfjs-wasm heap (addon.c adds the heap base to the
 * wasm byte offsets), layouts are TensorFlow's (activations NHWC, filters
 * [KH, KW, C, K]); arguments and semantics match the wasm exports of the
 * same name. Work is split over a thread pool by output elements only (rows
 * of output pixels, blocks of filter-gradient rows, images x channel blocks
 * of the input gradient), and each output element is accumulated in one
 * fixed order, so results do not depend on the number of threads.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "pool.h"
#ifndef VW
#error "compile with -DVW=4|8|16 -DSUFFIX=..."
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

typedef float f32;
typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));
#define LD(p) (*(const vfu *)(p))
#define ST(p, x) (*(vfu *)(p) = (x))
#if VW == 16
#define SPLAT(s) ({ const f32 s_ = (s); (vf){s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_, s_}; })
#elif VW == 8
#define SPLAT(s) ({ const f32 s_ = (s); (vf){s_, s_, s_, s_, s_, s_, s_, s_}; })
#else
#define SPLAT(s) ({ const f32 s_ = (s); (vf){s_, s_, s_, s_}; })
#endif

/* Register tile sizes: (pixels or rows) x NV vectors. 32 vector registers with AVX-512, 16 otherwise. */
#if VW == 16
#define PT2 12
#define PT1 24
#else
#define PT2 6
#define PT1 12
#endif

/* ------------------------------------------------------------------------ */
/* Scratch owned by the addon (packed filters, panels): grown, never freed. */
static __thread f32 *scratch_buf; /* per calling (JS) thread */
static __thread size_t scratch_len;
static f32 *scratch(size_t floats) {
  if (floats > scratch_len) {
    free_aligned(scratch_buf);
    scratch_buf = (f32 *)alloc_aligned(floats * sizeof(f32));
    scratch_len = scratch_buf ? floats : 0;
  }
  return scratch_buf;
}

/* Store the first nv floats of a PT-row tile row (NV vectors) at y. */
static inline __attribute__((always_inline)) void store_row(f32 *y, const vf *a, int NV, int nv) {
  if (nv == NV * VW) {
    for (int j = 0; j < NV; j++) ST(y + j * VW, a[j]);
  } else {
    f32 t[4 * VW] __attribute__((aligned(64)));
    for (int j = 0; j < NV; j++) *(vf *)(t + j * VW) = a[j];
    for (int l = 0; l < nv; l++) y[l] = t[l];
  }
}

/* Load the first nv floats at y into a PT-row tile row (zeros beyond nv). */
static inline __attribute__((always_inline)) void load_row(const f32 *y, vf *a, int NV, int nv) {
  if (nv == NV * VW) {
    for (int j = 0; j < NV; j++) a[j] = LD(y + j * VW);
  } else {
    f32 t[4 * VW] __attribute__((aligned(64))) = {0};
    for (int l = 0; l < nv; l++) t[l] = y[l];
    for (int j = 0; j < NV; j++) a[j] = *(const vf *)(t + j * VW);
  }
}

/* ------------------------------------------------------------------------ */
/* Direct convolution over a padded buffer, as kernels.c's conv_fwd: the
 * filter is packed into panels of BW = NV * VW output channels (zero-padded),
 * each output pixel accumulated over (ky, kx, c) in that order. */

#include "tiles.h"

#if VW == 16
#define ct_big2 conv_t12_2
#define ct_big1 conv_t24_1
#define dt_big2 dw_t12_2
#define dt_big1 dw_t24_1
#define xt_big2 dx_t12_2
#define xt_big1 dx_t24_1
#define mt_big2 mm_t12_2
#define mt_big1 mm_t24_1
#else
#define ct_big2 conv_t6_2
#define ct_big1 conv_t12_1
#define dt_big2 dw_t6_2
#define dt_big1 dw_t12_1
#define xt_big2 dx_t6_2
#define xt_big1 dx_t12_1
#define mt_big2 mm_t6_2
#define mt_big1 mm_t12_1
#endif
#define mt_4_2 mm_t4_2
#define mt_1_2 mm_t1_2
#define mt_4_1 mm_t4_1
#define mt_1_1 mm_t1_1

/* Width of a conv panel holding nv (<= BW) channels: BW, or for a last
 * panel of at most half of it the smallest of VW, 2 VW that holds them. */
static inline int panel_width(int BW, int nv) {
  if (nv == BW || BW == VW) return BW;
  return nv <= VW ? VW : nv <= 2 * VW ? 2 * VW : BW;
}

struct conv_args {
  const f32 *xb; int N, Hb, Wb, C; const f32 *wpk; int KH, KW, K, sh, sw, dh, dw; f32 *y; int Ho, Wo;
  int NV, BW, NP, Cc, nch, TB; size_t chunkFloats;
};

/* Pixel blocks of TB consecutive output pixels (flattened n, oy, ox: their
 * outputs are consecutive rows of y); in a block, for each panel and channel
 * chunk (whose packed weights stay in L2), tiles of PT pixels. */
static void conv_blocks(void *ctx, int i0, int i1) {
  const struct conv_args *a = (const struct conv_args *)ctx;
  const int C = a->C, K = a->K, BW = a->BW;
  const int rowStep = a->dh * a->Wb * C;
  const int merged = a->nch == 1 && a->dw == 1;
  const int P = a->N * a->Ho * a->Wo;
  const f32 *base[256], *pp[256];
  for (int it = i0; it < i1; it++) {
    const int p0 = it * a->TB, p1 = p0 + a->TB < P ? p0 + a->TB : P;
    for (int p = p0; p < p1; p++) {
      const int n = p / (a->Ho * a->Wo), r = p % (a->Ho * a->Wo), oy = r / a->Wo, ox = r % a->Wo;
      base[p - p0] = a->xb + ((ptrdiff_t)(n * a->Hb + oy * a->sh) * a->Wb + (ptrdiff_t)ox * a->sw) * C;
    }
    for (int b = 0; b < a->NP; b++) {
      const int nv = K - b * BW < BW ? K - b * BW : BW;
      const int NV = panel_width(BW, nv) / VW;
      const int big = NV == 4 ? 6 : NV == 2 ? PT2 : PT1;
      for (int ch = 0; ch < a->nch; ch++) {
        const int c0 = ch * a->Cc, cn = C - c0 < a->Cc ? C - c0 : a->Cc;
        const f32 *wp = a->wpk + ((size_t)b * a->nch + ch) * a->chunkFloats;
        const int Ci = merged ? a->KW * C : cn, KWi = merged ? 1 : a->KW, kxStep = a->dw * C;
        for (int i = 0; i < p1 - p0; i++) pp[i] = base[i] + c0;
        for (int i = 0; i < p1 - p0;) {
          const int left = p1 - p0 - i;
          const int pt = left >= big ? big : left >= 4 ? 4 : 1;
          f32 *y0 = a->y + (ptrdiff_t)(p0 + i) * K + b * BW;
          if (NV == 4) {
            if (pt == big) conv_t6_4(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else if (pt == 4) conv_t4_4(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else conv_t1_4(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
          } else if (NV == 2) {
            if (pt == big) ct_big2(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else if (pt == 4) conv_t4_2(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else conv_t1_2(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
          } else {
            if (pt == big) ct_big1(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else if (pt == 4) conv_t4_1(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
            else conv_t1_1(pp + i, Ci, wp, a->KH, KWi, rowStep, kxStep, y0, K, nv, ch > 0);
          }
          i += pt;
        }
      }
    }
  }
}

struct pack_args { const f32 *w; int KH, KW, C, K, BW, Cc, nch; size_t chunkFloats; f32 *wpk; int flip; };
/* wpk[b][ch][ky][kx][c - c0][0..BW) = w[ky, kx, c, b*BW + l] (0 beyond K). */
static void pack_panels(void *ctx, int i0, int i1) {
  const struct pack_args *a = (const struct pack_args *)ctx;
  const int T = a->KH * a->KW;
  for (int it = i0; it < i1; it++) { /* item: (panel b, channel chunk ch, tap t) */
    const int t = it % T, bc = it / T;
    const int b = bc / a->nch, ch = bc % a->nch;
    const int k0 = b * a->BW, nv = a->K - k0 < a->BW ? a->K - k0 : a->BW;
    const int bwp = panel_width(a->BW, nv); /* a narrower last panel */
    const int c0 = ch * a->Cc, cn = a->C - c0 < a->Cc ? a->C - c0 : a->Cc;
    f32 *dst = a->wpk + (size_t)bc * a->chunkFloats + (size_t)t * cn * bwp;
    if (a->flip) { /* filter w[T - 1 - t, k, c] of a [KH, KW, K, C] tensor: the flipped, tap-transposed one */
      for (int c = 0; c < cn; c++) {
        const f32 *src = a->w + ((ptrdiff_t)(T - 1 - t) * a->K + k0) * a->C + c0 + c;
        for (int l = 0; l < bwp; l++) *dst++ = l < nv ? src[(ptrdiff_t)l * a->C] : 0.0f;
      }
      continue;
    }
    for (int c = 0; c < cn; c++) {
      const f32 *src = a->w + ((ptrdiff_t)t * a->C + c0 + c) * a->K + k0;
      if (nv == bwp) {
        memcpy(dst, src, (size_t)bwp * sizeof(f32));
        dst += bwp;
      } else {
        for (int l = 0; l < bwp; l++) *dst++ = l < nv ? src[l] : 0.0f;
      }
    }
  }
}

/* conv_fwd with filter w given as [KH, KW, K, C] and used flipped and
 * tap-transposed (tap t, input c, output k reads w[T-1-t, k, c]): the
 * stride-1 input gradient of a conv whose filter is w, without materialising
 * the flipped filter. */
void FN(conv_fwd_any)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int K, int sh, int sw, int dh, int dw, f32 *y,
                      int Ho, int Wo, int flip);
void FN(conv_fwd)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int K, int sh, int sw, int dh, int dw, f32 *y,
                  int Ho, int Wo) {
  FN(conv_fwd_any)(xb, N, Hb, Wb, C, w, KH, KW, K, sh, sw, dh, dw, y, Ho, Wo, 0);
}
void FN(conv_fwd_flipped)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int K, int sh, int sw, int dh, int dw, f32 *y,
                          int Ho, int Wo) {
  FN(conv_fwd_any)(xb, N, Hb, Wb, C, w, KH, KW, K, sh, sw, dh, dw, y, Ho, Wo, 1);
}
void FN(conv_fwd_any)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int K, int sh, int sw, int dh, int dw, f32 *y,
                      int Ho, int Wo, int flip) {
  struct conv_args a = {xb, N, Hb, Wb, C, 0, KH, KW, K, sh, sw, dh, dw, y, Ho, Wo, 0, 0, 0, 0, 0, 0, 0};
  const int P = N * Ho * Wo;
  if (P == 0 || K == 0) return;
  a.NV = VW == 16 && K % (4 * VW) == 0 ? 4 : K > VW ? 2 : 1;
  a.BW = a.NV * VW;
  a.NP = (K + a.BW - 1) / a.BW;
  /* channel chunks whose packed panel (KH KW Cc BW floats) fits ~192 KB of L2 */
  int Cc = (192 * 1024) / (KH * KW * a.BW * (int)sizeof(f32));
  if (Cc < 16) Cc = 16;
  if (Cc >= C) Cc = C;
  a.Cc = Cc;
  a.nch = (C + Cc - 1) / Cc;
  a.chunkFloats = (size_t)KH * KW * Cc * a.BW;
  f32 *wpk = scratch((size_t)a.NP * a.nch * a.chunkFloats);
  if (!wpk) return;
  struct pack_args pa = {w, KH, KW, C, K, a.BW, Cc, a.nch, a.chunkFloats, wpk, flip};
  pool_run(a.NP * a.nch * KH * KW, pack_panels, &pa, pool_min_items(a.NP * a.nch * KH * KW, 4.0 * a.NP * a.nch * a.chunkFloats));
  a.wpk = wpk;
  /* pixel blocks: up to 240 pixels, at least 2 per thread */
  const int big = a.NV == 4 ? 6 : a.NV == 2 ? PT2 : PT1;
  const int T = pool_threads();
  int tb = (P + 2 * T - 1) / (2 * T);
  tb = ((tb + big - 1) / big) * big;
  if (tb > 240) tb = 240;
  if (tb < big) tb = big;
  a.TB = tb;
  pool_run((P + tb - 1) / tb, conv_blocks, &a, pool_min_items((P + tb - 1) / tb, 2.0 * P * KH * KW * C * K));
}

/* ------------------------------------------------------------------------ */
/* Filter gradient, as kernels.c's conv_dw: out[ky, kx, c, k] = sum over the
 * output pixels (n, oy, ox, in that order) of xb[...] dy[n, oy, ox, k]. Rows
 * r = (ky, kx, c) of out come in spans of contiguous input entries (one span
 * of KW*C per ky when dw == 1, else one of C per (ky, kx)); a work item is a
 * block of J rows of one span x one panel of BW channels, held in registers
 * over all pixels. K % VW channels (VW = 4 units only): scalar. */

struct dw_args {
  const f32 *xb; int N, Hb, Wb, C; const f32 *dy; int Ho, Wo, K, KH, KW, sh, sw, dh, dw; f32 *out;
  int L, nspan, jblocks, NV, BW, NP, K4, gj, ngroups;
};

/* Rows [j, j + jn) (jn <= J) of one span at channel k0 over the output
 * pixels [p0, p1) (flattened n, oy, ox), accumulating into acc (row i of the
 * block at acc[i * NV]); one tile call per run of pixels inside one output
 * row (or one image, when consecutive rows read contiguous inputs: 1 x 1
 * stride-1 convs over unpadded images, a plain matrix product). */
static void dw_pixels(const struct dw_args *a, int span, int j, int jn, int J, int k0, ptrdiff_t p0, ptrdiff_t p1, vf *acc) {
  const int C = a->C, K = a->K, NV = a->NV;
  const int rowStride = a->Wb * C, pstep = a->sw * C;
  const int ky = a->dw == 1 ? span : span / a->KW;
  const int kxo = a->dw == 1 ? 0 : (span % a->KW) * a->dw * C;
  const int flat = a->KH == 1 && a->sh == 1 && a->Hb == a->Ho && (ptrdiff_t)a->Wo * pstep == rowStride;
  const ptrdiff_t img = (ptrdiff_t)a->Ho * a->Wo;
  for (ptrdiff_t p = p0; p < p1;) {
    const int n = (int)(p / img);
    const ptrdiff_t q = p - n * img;
    const int oy = (int)(q / a->Wo), ox = (int)(q % a->Wo);
    const ptrdiff_t end = flat ? (n + 1) * img : p - ox + a->Wo;
    const int cnt = (int)((end < p1 ? end : p1) - p);
    const f32 *xs = a->xb + (ptrdiff_t)(n * a->Hb + oy * a->sh + ky * a->dh) * rowStride + (ptrdiff_t)ox * pstep + kxo + j;
    const f32 *d = a->dy + p * K + k0;
    p += cnt;
    if (jn == J) {
      if (NV == 4) dw_t6_4(xs, pstep, d, K, cnt, acc); else if (NV == 2) dt_big2(xs, pstep, d, K, cnt, acc); else dt_big1(xs, pstep, d, K, cnt, acc);
      continue;
    }
    int i = 0;
    for (; i + 4 <= jn; i += 4) {
      if (NV == 4) dw_t4_4(xs + i, pstep, d, K, cnt, acc + i * NV);
      else if (NV == 2) dw_t4_2(xs + i, pstep, d, K, cnt, acc + i * NV);
      else dw_t4_1(xs + i, pstep, d, K, cnt, acc + i * NV);
    }
    for (; i < jn; i++) {
      if (NV == 4) dw_t1_4(xs + i, pstep, d, K, cnt, acc + i * NV);
      else if (NV == 2) dw_t1_2(xs + i, pstep, d, K, cnt, acc + i * NV);
      else dw_t1_1(xs + i, pstep, d, K, cnt, acc + i * NV);
    }
  }
}

/* Tail channels [K4, K) (fewer than VW; VW = 4 units only in practice) of
 * rows [j0, j1) of one span, vectorised over the rows instead (consecutive
 * rows of a span are consecutive inputs): blocks of up to 4 vectors of rows
 * x the tail channels in registers over all pixels; the last rows scalar. */
static void dw_tail(const struct dw_args *a, int span, int j0, int j1) {
  const int C = a->C, K = a->K, K4 = a->K4, nt = K - K4;
  const int rowStride = a->Wb * C, pstep = a->sw * C;
  const int ky = a->dw == 1 ? span : span / a->KW;
  const int kxo = a->dw == 1 ? 0 : (span % a->KW) * a->dw * C;
  int j = j0;
  for (; j + VW <= j1;) {
    const int nvec = j1 - j >= 4 * VW ? 4 : 1;
    vf acc[4][VW];
    for (int q = 0; q < nvec; q++)
      for (int t = 0; t < nt; t++) acc[q][t] = (vf){0};
    for (int n = 0; n < a->N; n++)
      for (int oy = 0; oy < a->Ho; oy++) {
        const f32 *xs = a->xb + (ptrdiff_t)(n * a->Hb + oy * a->sh + ky * a->dh) * rowStride + kxo + j;
        const f32 *d = a->dy + (ptrdiff_t)(n * a->Ho + oy) * a->Wo * K + K4;
        for (int ox = 0; ox < a->Wo; ox++, xs += pstep, d += K) {
          if (nvec == 4) {
            const vf x0 = LD(xs), x1 = LD(xs + VW), x2 = LD(xs + 2 * VW), x3 = LD(xs + 3 * VW);
            for (int t = 0; t < nt; t++) {
              const vf s = SPLAT(d[t]);
              acc[0][t] += x0 * s; acc[1][t] += x1 * s; acc[2][t] += x2 * s; acc[3][t] += x3 * s;
            }
          } else {
            const vf x0 = LD(xs);
            for (int t = 0; t < nt; t++) acc[0][t] += x0 * SPLAT(d[t]);
          }
        }
      }
    for (int q = 0; q < nvec; q++)
      for (int t = 0; t < nt; t++) {
        f32 tmp[VW] __attribute__((aligned(64)));
        *(vf *)tmp = acc[q][t];
        for (int l = 0; l < VW; l++) a->out[(ptrdiff_t)(span * a->L + j + q * VW + l) * K + K4 + t] = tmp[l];
      }
    j += nvec * VW;
  }
  for (; j < j1; j++)
    for (int k = K4; k < K; k++) {
      f32 s = 0.0f;
      for (int n = 0; n < a->N; n++)
        for (int oy = 0; oy < a->Ho; oy++) {
          const f32 *xs = a->xb + (ptrdiff_t)(n * a->Hb + oy * a->sh + ky * a->dh) * rowStride + kxo + j;
          const f32 *d = a->dy + (ptrdiff_t)(n * a->Ho + oy) * a->Wo * K + k;
          for (int ox = 0; ox < a->Wo; ox++, xs += pstep, d += K) s += *xs * *d;
        }
      a->out[(ptrdiff_t)(span * a->L + j) * K + k] = s;
    }
}

/* Work item (span, panel, group of row blocks): output rows are taken in
 * chunks small enough for their dy panel to stay in L2 while every row block
 * of the group passes over it; accumulators live in a per-item buffer. */
static void dw_items(void *ctx, int i0, int i1) {
  const struct dw_args *a = (const struct dw_args *)ctx;
  const int J = a->NV == 4 ? 6 : a->NV == 2 ? PT2 : PT1;
  const int NPi = a->NP > 0 ? a->NP : 1;
  const ptrdiff_t P = (ptrdiff_t)a->N * a->Ho * a->Wo;
  /* pixel chunks whose dy panel (chunk x BW floats) stays in L1 while every row block passes over it */
  ptrdiff_t chunk = (16 * 1024) / (a->BW * (ptrdiff_t)sizeof(f32));
  if (chunk < 16) chunk = 16;
  for (int it = i0; it < i1; it++) {
    const int span = it / (NPi * a->ngroups), rest = it % (NPi * a->ngroups);
    const int b = rest / a->ngroups, g = rest % a->ngroups;
    const int jb0 = g * a->gj, jb1 = jb0 + a->gj < a->jblocks ? jb0 + a->gj : a->jblocks;
    const int j0 = jb0 * J, j1 = jb1 * J < a->L ? jb1 * J : a->L;
    if (a->NP > 0) {
      const size_t nacc = (size_t)(j1 - j0) * a->NV;
      vf *acc = (vf *)alloc_aligned(nacc * sizeof(vf));
      if (!acc) return;
      for (size_t q = 0; q < nacc; q++) acc[q] = (vf){0};
      const int k0 = b * a->BW;
      for (ptrdiff_t p0 = 0; p0 < P; p0 += chunk) {
        const ptrdiff_t p1 = p0 + chunk < P ? p0 + chunk : P;
        for (int j = j0; j < j1; j += J) dw_pixels(a, span, j, j1 - j < J ? j1 - j : J, J, k0, p0, p1, acc + (size_t)(j - j0) * a->NV);
      }
      f32 *o = a->out + (ptrdiff_t)(span * a->L + j0) * a->K + k0;
      for (int i = 0; i < j1 - j0; i++)
        for (int q = 0; q < a->NV; q++) ST(o + (ptrdiff_t)i * a->K + q * VW, acc[(size_t)i * a->NV + q]);
      free_aligned(acc);
    }
    if (b == 0 && a->K4 < a->K) dw_tail(a, span, j0, j1);
  }
}

void FN(conv_dw)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *dy, int Ho, int Wo, int K, int KH, int KW, int sh, int sw, int dh,
                 int dw, f32 *out) {
  struct dw_args a = {xb, N, Hb, Wb, C, dy, Ho, Wo, K, KH, KW, sh, sw, dh, dw, out, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  a.L = dw == 1 ? KW * C : C;
  a.nspan = dw == 1 ? KH : KH * KW;
  a.K4 = K - K % VW;
  /* panels of 2 VW while they fit, the last full vector alone */
  /* 6 rows x 4 vectors on long output rows (measured ~10% faster at 128 px, not on 32 px rows) */
  a.NV = VW == 16 && a.K4 % (4 * VW) == 0 && a.K4 > 0 && Wo >= 64 ? 4 : a.K4 >= 2 * VW && a.K4 % (2 * VW) == 0 ? 2 : 1;
  a.BW = a.NV * VW;
  a.NP = a.K4 / a.BW;
  const int J = a.NV == 4 ? 6 : a.NV == 2 ? PT2 : PT1;
  a.jblocks = (a.L + J - 1) / J;
  if ((ptrdiff_t)N * Ho * Wo == 0) {
    memset(out, 0, (size_t)KH * KW * C * K * sizeof(f32));
    return;
  }
  /* row-block groups: the whole span unless that leaves fewer than 4 items per thread */
  const int NPi = a.NP > 0 ? a.NP : 1;
  a.gj = a.jblocks;
  const int want = 4 * pool_threads();
  while (a.nspan * NPi * ((a.jblocks + a.gj - 1) / a.gj) < want && a.gj > 1) a.gj = (a.gj + 1) / 2;
  a.ngroups = (a.jblocks + a.gj - 1) / a.gj;
  pool_run(a.nspan * NPi * a.ngroups, dw_items, &a, pool_min_items(a.nspan * NPi * a.ngroups, 2.0 * N * Ho * Wo * KH * KW * C * K));
}

/* ------------------------------------------------------------------------ */
/* Input gradient by scatter, as kernels.c's conv_dx_scatter, with wt the
 * tap-transposed filter [KH, KW, K, C]. For one (n, oy, ky) and kx, a tile of
 * PT output pixels x NV vectors of input channels sums dy . wt over k in
 * registers and adds it to the PT distinct dx pixels it scatters to. Work
 * items: images x blocks of channels (disjoint outputs); every dx element
 * receives its contributions in (oy, ky, kx, ox) order whatever the split. */

struct dx_args {
  const f32 *dy; int N, Ho, Wo, K; const f32 *wt; int KH, KW, C, sh, sw, dh, dw, pt, pl; f32 *dx; int H, W;
  int CB, ncb;
};

/* Tile of PT consecutive output pixels (flattened oy, ox of image n, from q0)
 * x NV vectors (c0..) for tap (ky, kx): sum over k, then add to the dx
 * pixels in range (distinct for one tap). */
static inline void dx_tile(const int PT, const int NV, const struct dx_args *a, int n, int q0, int ky, int kx, const f32 *wk, int c0) {
  vf r[48] __attribute__((aligned(64)));
  const f32 *d = a->dy + ((ptrdiff_t)n * a->Ho * a->Wo + q0) * a->K;
  const f32 *wp = wk + c0;
  if (NV == 2) {
    if (PT == 1) dx_t1_2(d, a->K, wp, a->C, r); else if (PT == 4) dx_t4_2(d, a->K, wp, a->C, r); else xt_big2(d, a->K, wp, a->C, r);
  } else {
    if (PT == 1) dx_t1_1(d, a->K, wp, a->C, r); else if (PT == 4) dx_t4_1(d, a->K, wp, a->C, r); else xt_big1(d, a->K, wp, a->C, r);
  }
  for (int i = 0; i < PT; i++) {
    const int q = q0 + i, oy = q / a->Wo, ox = q % a->Wo;
    const int iy = oy * a->sh + ky * a->dh - a->pt, ix = ox * a->sw + kx * a->dw - a->pl;
    if (iy < 0 || iy >= a->H || ix < 0 || ix >= a->W) continue;
    f32 *o = a->dx + (((ptrdiff_t)n * a->H + iy) * a->W + ix) * a->C + c0;
    for (int q2 = 0; q2 < NV; q2++) ST(o + q2 * VW, LD(o + q2 * VW) + r[i * NV + q2]);
  }
}

/* Work item (image n, channel block): zero its dx, then per tap (ky, kx) and
 * vector block of channels (whose wt columns stay in L2), tiles over all
 * output pixels of the image; every dx element receives its contributions in
 * tap order whatever the split. */
static void dx_items(void *ctx, int i0, int i1) {
  const struct dx_args *a = (const struct dx_args *)ctx;
  const int K = a->K, C = a->C;
  const int C4 = C - C % VW;
  const int Q = a->Ho * a->Wo;
  for (int it = i0; it < i1; it++) {
    const int n = it / a->ncb, cb = it % a->ncb;
    const int c0 = cb * a->CB, c1 = c0 + a->CB < C ? c0 + a->CB : C;
    const int cv1 = c1 < C4 ? c1 : C4; /* vector part [c0, cv1) */
    if (c0 == 0 && c1 == C)
      memset(a->dx + (ptrdiff_t)n * a->H * a->W * C, 0, (size_t)a->H * a->W * C * sizeof(f32));
    else
      for (ptrdiff_t p = 0; p < (ptrdiff_t)a->H * a->W; p++) memset(a->dx + ((ptrdiff_t)n * a->H * a->W + p) * C + c0, 0, (size_t)(c1 - c0) * sizeof(f32));
    for (int ky = 0; ky < a->KH; ky++)
      for (int kx = 0; kx < a->KW; kx++) {
        const f32 *wk = a->wt + (ptrdiff_t)(ky * a->KW + kx) * K * C;
        int c = c0;
        for (; c + 2 * VW <= cv1; c += 2 * VW) {
          int q = 0;
          for (; q + PT2 <= Q; q += PT2) dx_tile(PT2, 2, a, n, q, ky, kx, wk, c);
          for (; q + 4 <= Q; q += 4) dx_tile(4, 2, a, n, q, ky, kx, wk, c);
          for (; q < Q; q++) dx_tile(1, 2, a, n, q, ky, kx, wk, c);
        }
        for (; c + VW <= cv1; c += VW) {
          int q = 0;
          for (; q + PT1 <= Q; q += PT1) dx_tile(PT1, 1, a, n, q, ky, kx, wk, c);
          for (; q + 4 <= Q; q += 4) dx_tile(4, 1, a, n, q, ky, kx, wk, c);
          for (; q < Q; q++) dx_tile(1, 1, a, n, q, ky, kx, wk, c);
        }
        if (c < c1) /* scalar tail channels */
          for (int q = 0; q < Q; q++) {
            const int oy = q / a->Wo, ox = q % a->Wo;
            const int iy = oy * a->sh + ky * a->dh - a->pt, ix = ox * a->sw + kx * a->dw - a->pl;
            if (iy < 0 || iy >= a->H || ix < 0 || ix >= a->W) continue;
            const f32 *d = a->dy + ((ptrdiff_t)n * Q + q) * K;
            f32 *o = a->dx + (((ptrdiff_t)n * a->H + iy) * a->W + ix) * C;
            for (int cc = c; cc < c1; cc++) {
              f32 s = 0.0f;
              for (int k = 0; k < K; k++) s += d[k] * wk[(ptrdiff_t)k * C + cc];
              o[cc] += s;
            }
          }
      }
  }
}

/* wt[t, k, c] = w[t, c, k] for T taps, tiles of 16 x 16; work items (tap, c-block). */
struct tt_args { const f32 *w; int T, C, K; f32 *wt; int ncb; };
static void tt_items(void *ctx, int i0, int i1) {
  const struct tt_args *a = (const struct tt_args *)ctx;
  for (int it = i0; it < i1; it++) {
    const int t = it / a->ncb, c0 = (it % a->ncb) * 16, c1 = c0 + 16 < a->C ? c0 + 16 : a->C;
    const f32 *src = a->w + (ptrdiff_t)t * a->C * a->K;
    f32 *dst = a->wt + (ptrdiff_t)t * a->C * a->K;
    for (int k0 = 0; k0 < a->K; k0 += 16) {
      const int k1 = k0 + 16 < a->K ? k0 + 16 : a->K;
      for (int c = c0; c < c1; c++)
        for (int k = k0; k < k1; k++) dst[(ptrdiff_t)k * a->C + c] = src[(ptrdiff_t)c * a->K + k];
    }
  }
}

void FN(transpose_taps)(const f32 *w, int T, int C, int K, f32 *wt) {
  struct tt_args a = {w, T, C, K, wt, (C + 15) / 16};
  pool_run(T * a.ncb, tt_items, &a, pool_min_items(T * a.ncb, 8.0 * T * C * K));
}

void FN(conv_dx_scatter)(const f32 *dy, int N, int Ho, int Wo, int K, const f32 *wt, int KH, int KW, int C, int sh, int sw, int dh, int dw,
                         int pt, int pl, f32 *dx, int H, int W) {
  struct dx_args a = {dy, N, Ho, Wo, K, wt, KH, KW, C, sh, sw, dh, dw, pt, pl, dx, H, W, 0, 0};
  /* channel blocks of a multiple of 2 VW (whole C when small), enough items for the pool */
  int cb = C;
  const int want = 4 * pool_threads();
  while (N * ((C + cb - 1) / cb) < want && cb > 2 * VW) cb = ((cb / 2 + 2 * VW - 1) / (2 * VW)) * (2 * VW);
  a.CB = cb;
  a.ncb = (C + cb - 1) / cb;
  pool_run(N * a.ncb, dx_items, &a, pool_min_items(N * a.ncb, 2.0 * N * Ho * Wo * K * KH * KW * C));
}

/* ------------------------------------------------------------------------ */
/* Batched matrix product, as kernels.c's matmul: out[b] = A[b] B[b], A
 * strided (element (i, k) at a + i*ars + k*acs), B K x N row-major or N x K
 * (transB), batch strides 0 broadcast. B is packed into zero-padded column
 * panels of BW; a tile of PT rows x NV vectors sums over all of K in order.
 * Work items: (batch, row block). */

struct mm_args {
  const f32 *a; int aStride, ars, acs; const f32 *b; int bStride, transB; f32 *out; int batch, M, K, N;
  int NV, BW, NP, RB, nrb; f32 *bp; int bpPer;
};

static void mm_pack(void *ctx, int i0, int i1) {
  const struct mm_args *m = (const struct mm_args *)ctx;
  const int nb = m->bStride == 0 ? 1 : m->batch;
  (void)nb;
  for (int it = i0; it < i1; it++) {
    const int bi = it / m->NP, jb = it % m->NP;
    const f32 *B = m->b + (ptrdiff_t)bi * m->bStride;
    f32 *dst = m->bp + (ptrdiff_t)bi * m->bpPer + (ptrdiff_t)jb * m->K * m->BW;
    const int j0 = jb * m->BW;
    const int w = m->N - j0 < m->BW ? m->N - j0 : m->BW;
    for (int k = 0; k < m->K; k++)
      for (int jj = 0; jj < m->BW; jj++)
        dst[(ptrdiff_t)k * m->BW + jj] = jj < w ? (m->transB ? B[(ptrdiff_t)(j0 + jj) * m->K + k] : B[(ptrdiff_t)k * m->N + j0 + jj]) : 0.0f;
  }
}

/* K is taken in blocks of KC (later blocks add to the output: a fixed
 * summation order whatever the split); in a block, each tile of rows meets
 * every column panel while its slice of A stays in L1, the block's panels
 * (KC x BW floats each) in L2. */
#define KC 256
static void mm_items(void *ctx, int i0, int i1) {
  const struct mm_args *m = (const struct mm_args *)ctx;
  const int big = m->NV == 2 ? PT2 : PT1;
  for (int it = i0; it < i1; it++) {
    const int bi = it / m->nrb, rb = it % m->nrb;
    const int r0 = rb * m->RB, r1 = r0 + m->RB < m->M ? r0 + m->RB : m->M;
    const f32 *A = m->a + (ptrdiff_t)bi * m->aStride;
    const f32 *bp = m->bp + (m->bStride == 0 ? 0 : (ptrdiff_t)bi * m->bpPer);
    f32 *O = m->out + (ptrdiff_t)bi * m->M * m->N;
    for (int k0 = 0; k0 < m->K; k0 += KC) {
      const int kc = m->K - k0 < KC ? m->K - k0 : KC;
      const int acc = k0 > 0;
      for (int i = r0; i < r1;) {
        const int left = r1 - i;
        const int pt = left >= big ? big : left >= 4 ? 4 : 1;
        const f32 *Ai = A + (ptrdiff_t)i * m->ars + (ptrdiff_t)k0 * m->acs;
        for (int jb = 0; jb < m->NP; jb++) {
          const int j0 = jb * m->BW;
          const int nv = m->N - j0 < m->BW ? m->N - j0 : m->BW;
          const f32 *p = bp + (ptrdiff_t)jb * m->K * m->BW + (ptrdiff_t)k0 * m->BW;
          f32 *o = O + (ptrdiff_t)i * m->N + j0;
          if (m->NV == 2) {
            if (pt == big) mt_big2(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
            else if (pt == 4) mt_4_2(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
            else mt_1_2(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
          } else {
            if (pt == big) mt_big1(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
            else if (pt == 4) mt_4_1(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
            else mt_1_1(Ai, m->ars, m->acs, p, kc, o, m->N, nv, acc);
          }
        }
        i += pt;
      }
    }
  }
}

void FN(matmul)(const f32 *a, int aStride, int ars, int acs, const f32 *b, int bStride, int transB, f32 *out, int batch, int M, int K, int N) {
  struct mm_args m = {a, aStride, ars, acs, b, bStride, transB, out, batch, M, K, N, 0, 0, 0, 0, 0, 0, 0};
  m.NV = N > VW ? 2 : 1;
  m.BW = m.NV * VW;
  m.NP = (N + m.BW - 1) / m.BW;
  m.bpPer = m.NP * K * m.BW;
  const int nb = bStride == 0 ? 1 : batch;
  m.bp = scratch((size_t)nb * m.bpPer + 1);
  if (!m.bp) return;
  pool_run(nb * m.NP, mm_pack, &m, pool_min_items(nb * m.NP, 4.0 * nb * m.bpPer));
  /* row blocks: multiples of the big tile, at least ~4 items per thread overall */
  const int big = m.NV == 2 ? PT2 : PT1;
  int rb = ((M + big - 1) / big) * big;
  const int want = 4 * pool_threads();
  while (batch * ((M + rb - 1) / rb) < want && rb > big) rb = ((rb / 2 + big - 1) / big) * big;
  m.RB = rb;
  m.nrb = (M + rb - 1) / rb;
  pool_run(batch * m.nrb, mm_items, &m, pool_min_items(batch * m.nrb, 2.0 * batch * M * K * N));
}

/* ------------------------------------------------------------------------ */
/* Max-pool gradient, as kernels.c's max_pool_grad: dx (zeroed) gets each
 * dy[n, oh, ow, c] at the first window entry (row-major) equal to the pooled
 * y; returns the (window, channel) pairs with none (NaN windows). Work items:
 * (image, block of channels), disjoint in dx, windows visited in order, so the
 * sums (overlapping windows) do not depend on the split. Vectors over channels;
 * tail channels scalar. */
struct mpg_args { const f32 *x, *y, *dy; int N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl; f32 *dx; int CB, ncb; int *missing; };
static void mpg_items(void *ctx, int i0, int i1) {
  const struct mpg_args *a = (const struct mpg_args *)ctx;
  typedef int vi __attribute__((vector_size(VW * 4)));
  const int C = a->C;
  for (int it = i0; it < i1; it++) {
    const int n = it / a->ncb, c0 = (it % a->ncb) * a->CB, c1 = c0 + a->CB < C ? c0 + a->CB : C;
    const int cv1 = c0 + ((c1 - c0) / VW) * VW;
    int miss = 0;
    for (ptrdiff_t p = 0; p < (ptrdiff_t)a->H * a->W; p++) memset(a->dx + ((ptrdiff_t)n * a->H * a->W + p) * C + c0, 0, (size_t)(c1 - c0) * sizeof(f32));
    for (int oh = 0; oh < a->OH; oh++) {
      const int h0 = oh * a->sh - a->pt;
      const int hLo = h0 < 0 ? 0 : h0, hHi = h0 + a->KH < a->H ? h0 + a->KH : a->H;
      for (int ow = 0; ow < a->OW; ow++) {
        const int w0 = ow * a->sw - a->pl;
        const int wLo = w0 < 0 ? 0 : w0, wHi = w0 + a->KW < a->W ? w0 + a->KW : a->W;
        const ptrdiff_t o = (((ptrdiff_t)n * a->OH + oh) * a->OW + ow) * C;
        for (int c = c0; c < cv1; c += VW) {
          const vf m = LD(a->y + o + c), g = LD(a->dy + o + c);
          vi found = (vi){0};
          for (int ih = hLo; ih < hHi; ih++) {
            ptrdiff_t b = (((ptrdiff_t)n * a->H + ih) * a->W + wLo) * C + c;
            for (int iw = wLo; iw < wHi; iw++, b += C) {
              const vi hit = (LD(a->x + b) == m) & ~found;
              ST(a->dx + b, (vf)((vi)LD(a->dx + b)) + (vf)((vi)g & hit));
              found |= hit;
            }
          }
          for (int l = 0; l < VW; l++) miss += found[l] == 0;
        }
        for (int c = cv1; c < c1; c++) {
          const f32 m = a->y[o + c];
          int done = 0;
          for (int ih = hLo; ih < hHi && !done; ih++) {
            ptrdiff_t b = (((ptrdiff_t)n * a->H + ih) * a->W + wLo) * C + c;
            for (int iw = wLo; iw < wHi; iw++, b += C)
              if (a->x[b] == m) {
                a->dx[b] += a->dy[o + c];
                done = 1;
                break;
              }
          }
          if (!done) miss++;
        }
      }
    }
    a->missing[it] = miss;
  }
}

int FN(max_pool_grad)(const f32 *x, const f32 *y, const f32 *dy, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw,
                      int pt, int pl, f32 *dx) {
  struct mpg_args a = {x, y, dy, N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, dx, C, 1, NULL};
  const int want = 4 * pool_threads();
  while (N * a.ncb < want && a.CB > VW) {
    a.CB = ((a.CB / 2 + VW - 1) / VW) * VW;
    a.ncb = (C + a.CB - 1) / a.CB;
  }
  a.missing = (int *)alloc_aligned((size_t)N * a.ncb * sizeof(int));
  if (!a.missing) return -1;
  pool_run(N * a.ncb, mpg_items, &a, pool_min_items(N * a.ncb, 4.0 * N * OH * OW * KH * KW * C));
  int miss = 0;
  for (int i = 0; i < N * a.ncb; i++) miss += a.missing[i];
  free_aligned(a.missing);
  return miss;
}

/* ------------------------------------------------------------------------ */
/* Depthwise conv (channel multiplier 1) forward over a padded input
 * xb[N, Hb, Wb, C] with filter w[KH, KW, C]:
 * y[n, oy, ox, c] = sum over taps (ky, kx in order) of
 * xb[n, oy*sh + ky*dh, ox*sw + kx*dw, c] w[ky, kx, c]. Vectors over channels
 * (tail channels scalar), 4 output pixels at a time; work items are output
 * rows (n, oy). */
struct dwf_args { const f32 *xb; int N, Hb, Wb, C; const f32 *w; int KH, KW, sh, sw, dh, dw; f32 *y; int Ho, Wo; };

static void dwf_rows(void *ctx, int r0, int r1) {
  const struct dwf_args *a = (const struct dwf_args *)ctx;
  const int C = a->C, CV = C - C % VW, T = a->KH * a->KW;
  const ptrdiff_t px = (ptrdiff_t)a->sw * C; /* input step between output pixels */
  for (int r = r0; r < r1; r++) {
    const int n = r / a->Ho, oy = r % a->Ho;
    const f32 *xr = a->xb + ((ptrdiff_t)n * a->Hb + (ptrdiff_t)oy * a->sh) * a->Wb * C;
    f32 *yr = a->y + (ptrdiff_t)r * a->Wo * C;
    ptrdiff_t toff[64];
    const int tt = T <= 64 ? T : 64;
    for (int t = 0; t < tt; t++) toff[t] = ((ptrdiff_t)(t / a->KW) * a->dh * a->Wb + (ptrdiff_t)(t % a->KW) * a->dw) * C;
    for (int c = 0; c < CV; c += VW) {
      int ox = 0;
      for (; ox + 4 <= a->Wo; ox += 4) {
        const f32 *q = xr + ox * px + c;
        vf s0 = (vf){0}, s1 = (vf){0}, s2 = (vf){0}, s3 = (vf){0};
        for (int t = 0; t < T; t++) {
          const ptrdiff_t o = t < 64 ? toff[t] : ((ptrdiff_t)(t / a->KW) * a->dh * a->Wb + (ptrdiff_t)(t % a->KW) * a->dw) * C;
          const vf wv = LD(a->w + (ptrdiff_t)t * C + c);
          s0 += LD(q + o) * wv;
          s1 += LD(q + o + px) * wv;
          s2 += LD(q + o + 2 * px) * wv;
          s3 += LD(q + o + 3 * px) * wv;
        }
        ST(yr + (ptrdiff_t)ox * C + c, s0);
        ST(yr + (ptrdiff_t)(ox + 1) * C + c, s1);
        ST(yr + (ptrdiff_t)(ox + 2) * C + c, s2);
        ST(yr + (ptrdiff_t)(ox + 3) * C + c, s3);
      }
      for (; ox < a->Wo; ox++) {
        const f32 *q = xr + ox * px + c;
        vf s0 = (vf){0};
        for (int t = 0; t < T; t++) {
          const ptrdiff_t o = t < 64 ? toff[t] : ((ptrdiff_t)(t / a->KW) * a->dh * a->Wb + (ptrdiff_t)(t % a->KW) * a->dw) * C;
          s0 += LD(q + o) * LD(a->w + (ptrdiff_t)t * C + c);
        }
        ST(yr + (ptrdiff_t)ox * C + c, s0);
      }
    }
    for (int c = CV; c < C; c++) {
      for (int ox = 0; ox < a->Wo; ox++) {
        const f32 *q = xr + ox * px + c;
        f32 s0 = 0.0f;
        for (int t = 0; t < T; t++) {
          const ptrdiff_t o = ((ptrdiff_t)(t / a->KW) * a->dh * a->Wb + (ptrdiff_t)(t % a->KW) * a->dw) * C;
          s0 += q[o] * a->w[(ptrdiff_t)t * C + c];
        }
        yr[(ptrdiff_t)ox * C + c] = s0;
      }
    }
  }
}

void FN(dwconv_fwd)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *w, int KH, int KW, int sh, int sw, int dh, int dw, f32 *y, int Ho,
                    int Wo) {
  struct dwf_args a = {xb, N, Hb, Wb, C, w, KH, KW, sh, sw, dh, dw, y, Ho, Wo};
  const int rows = N * Ho;
  pool_run(rows, dwf_rows, &a, pool_min_items(rows, 2.0 * rows * Wo * C * KH * KW));
}

/* Depthwise conv (multiplier 1) filter gradient over a padded input
 * xb[N, Hb, Wb, C]: out[ky, kx, c] = sum over output pixels of
 * xb[n, oy*sh + ky*dh, ox*sw + kx*dw, c] dy[n, oy, ox, c]. The output rows
 * (n, oy) fall into G groups fixed by the shape alone (at most 64, of at least
 * 4 rows); each (group, channel vector block) item sums its rows for every
 * tap into its own float32 partial, and the partials are added in group
 * order afterwards: the same sums whatever the thread count. */
struct dwg_args {
  const f32 *xb; int N, Hb, Wb, C; const f32 *dy; int Ho, Wo, KH, KW, sh, sw, dh, dw; int G, rpg, ncb; f32 *parts;
};

static void dwg_items(void *ctx, int i0, int i1) {
  const struct dwg_args *a = (const struct dwg_args *)ctx;
  const int C = a->C, T = a->KH * a->KW, rows = a->N * a->Ho;
  const ptrdiff_t px = (ptrdiff_t)a->sw * C;
  for (int it = i0; it < i1; it++) {
    const int g = it / a->ncb, cb = it % a->ncb;
    const int c = cb * VW, cw = C - c < VW ? C - c : VW;
    f32 *part = a->parts + (ptrdiff_t)g * T * C;
    const int r0 = g * a->rpg, r1 = r0 + a->rpg < rows ? r0 + a->rpg : rows;
    for (int t = 0; t < T; t++) {
      const ptrdiff_t o = ((ptrdiff_t)(t / a->KW) * a->dh * a->Wb + (ptrdiff_t)(t % a->KW) * a->dw) * C;
      if (cw == VW) {
        vf s0 = (vf){0}, s1 = (vf){0};
        for (int r = r0; r < r1; r++) {
          const int n = r / a->Ho, oy = r % a->Ho;
          const f32 *q = a->xb + ((ptrdiff_t)n * a->Hb + (ptrdiff_t)oy * a->sh) * a->Wb * C + o + c;
          const f32 *d = a->dy + (ptrdiff_t)r * a->Wo * C + c;
          int ox = 0;
          for (; ox + 2 <= a->Wo; ox += 2, q += 2 * px, d += 2 * C) {
            s0 += LD(q) * LD(d);
            s1 += LD(q + px) * LD(d + C);
          }
          if (ox < a->Wo) s0 += LD(q) * LD(d);
        }
        ST(part + (ptrdiff_t)t * C + c, s0 + s1);
      } else {
        for (int cc = c; cc < c + cw; cc++) {
          f32 s = 0.0f;
          for (int r = r0; r < r1; r++) {
            const int n = r / a->Ho, oy = r % a->Ho;
            const f32 *q = a->xb + ((ptrdiff_t)n * a->Hb + (ptrdiff_t)oy * a->sh) * a->Wb * C + o + cc;
            const f32 *d = a->dy + (ptrdiff_t)r * a->Wo * C + cc;
            for (int ox = 0; ox < a->Wo; ox++, q += px, d += C) s += *q * *d;
          }
          part[(ptrdiff_t)t * C + cc] = s;
        }
      }
    }
  }
}

void FN(dwconv_dw)(const f32 *xb, int N, int Hb, int Wb, int C, const f32 *dy, int Ho, int Wo, int KH, int KW, int sh, int sw, int dh, int dw,
                   f32 *out) {
  const int rows = N * Ho, T = KH * KW;
  if (rows == 0 || Wo == 0) {
    memset(out, 0, (size_t)T * C * sizeof(f32));
    return;
  }
  int G = rows / 4;
  if (G > 64) G = 64;
  if (G < 1) G = 1;
  const int rpg = (rows + G - 1) / G;
  G = (rows + rpg - 1) / rpg;
  struct dwg_args a = {xb, N, Hb, Wb, C, dy, Ho, Wo, KH, KW, sh, sw, dh, dw, G, rpg, (C + VW - 1) / VW, NULL};
  a.parts = (f32 *)alloc_aligned((size_t)G * T * C * sizeof(f32));
  if (!a.parts) return;
  pool_run(G * a.ncb, dwg_items, &a, pool_min_items(G * a.ncb, 2.0 * rows * Wo * C * T));
  for (ptrdiff_t e = 0; e < (ptrdiff_t)T * C; e++) {
    f32 s = a.parts[e];
    for (int g = 1; g < G; g++) s += a.parts[(ptrdiff_t)g * T * C + e];
    out[e] = s;
  }
  free_aligned(a.parts);
}

/* ------------------------------------------------------------------------ */
/* Exact GELU (x Phi(x)) forward and gradient, as kernels.c's gelu_fwd /
 * gelu_bwd: the same exp polynomial (Cephes expf) and erf approximation
 * (Abramowitz & Stegun 7.1.26, tfjs' constants), VW lanes wide (fused
 * multiply-adds where contracted, so values agree with the wasm kernels to
 * float32 rounding), in blocks of 8192 over the pool. */
typedef int vi __attribute__((vector_size(VW * 4)));
static inline vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline vf v_exp(vf x) {
  x = vsel(x < SPLAT(-87.3f), SPLAT(-87.3f), x);
  x = vsel(x > SPLAT(88.3f), SPLAT(88.3f), x);
  const vf magic = SPLAT(12582912.0f); /* 1.5 * 2^23: adding and subtracting rounds to the nearest integer (ties to even) */
  vf fx = x * SPLAT(1.44269504088896341f);
  fx = (fx + magic) - magic;
  vf r = x - fx * SPLAT(0.693359375f);
  r = r + fx * SPLAT(2.12194440e-4f);
  vf y = SPLAT(1.9875691500e-4f);
  y = y * r + SPLAT(1.3981999507e-3f);
  y = y * r + SPLAT(8.3334519073e-3f);
  y = y * r + SPLAT(4.1665795894e-2f);
  y = y * r + SPLAT(1.6666665459e-1f);
  y = y * r + SPLAT(5.0000001201e-1f);
  y = (y * r * r + r) + SPLAT(1.0f);
  const vi n = __builtin_convertvector(fx, vi);
  return y * (vf)((n + 127) << 23);
}
static inline vf v_erf_e(vf z, vf e) {
  const vi sign = (vi)z & (vi){0} + (int)0x80000000;
  const vf az = (vf)((vi)z & ~sign);
  const vf t = SPLAT(1.0f) / (SPLAT(1.0f) + SPLAT(0.3275911f) * az);
  vf p = SPLAT(1.061405429f);
  p = p * t + SPLAT(-1.453152027f);
  p = p * t + SPLAT(1.421413741f);
  p = p * t + SPLAT(-0.284496736f);
  p = p * t + SPLAT(0.254829592f);
  p = p * t;
  vf y = SPLAT(1.0f) - p * e;
  y = (vf)((vi)y | sign);
  return (vf)((vi)y & ~(z == SPLAT(0.0f))); /* erf(0) = 0 exactly */
}
struct gelu_args { const f32 *x, *dy; f32 *out; size_t n; };
#define GELU_BLOCK 8192
static void gelu_range(void *ctx, int i0, int i1) {
  const struct gelu_args *a = (const struct gelu_args *)ctx;
  const size_t lo = (size_t)i0 * GELU_BLOCK, hi0 = (size_t)i1 * GELU_BLOCK, hi = hi0 < a->n ? hi0 : a->n;
  for (size_t i = lo; i < hi; i += VW) {
    const size_t m = hi - i < VW ? hi - i : VW;
    vf xv = (vf){0}, g = (vf){0};
    if (m == VW) {
      xv = LD(a->x + i);
      if (a->dy) g = LD(a->dy + i);
    } else {
      for (size_t k = 0; k < m; k++) {
        xv[k] = a->x[i + k];
        if (a->dy) g[k] = a->dy[i + k];
      }
    }
    const vf z = xv * SPLAT(0.70710678118654752f);
    const vf e = v_exp(-(z * z));
    const vf cdf = SPLAT(0.5f) * (SPLAT(1.0f) + v_erf_e(z, e));
    const vf r = a->dy ? g * (cdf + xv * (e * SPLAT(0.39894228040143268f))) : xv * cdf;
    if (m == VW) ST(a->out + i, r);
    else
      for (size_t k = 0; k < m; k++) a->out[i + k] = r[k];
  }
}
/* dy NULL: y = gelu(x); else dx = dy gelu'(x). */
void FN(gelu)(const f32 *x, const f32 *dy, f32 *out, int n) {
  struct gelu_args a = {x, dy, out, (size_t)n};
  pool_run((n + GELU_BLOCK - 1) / GELU_BLOCK, gelu_range, &a, 1);
}

#ifdef MEDFL_BASE_UNIT
/* ------------------------------------------------------------------------ */
/* Memory-bound per-channel passes (BatchNorm, bias, ReLU gradient), compiled
 * once in the baseline unit without contraction: the same float32 operations
 * in the same order as kernels.c's wasm versions (bit-identical results), the
 * rows split over the pool. Reductions keep kernels.c's blocking: float32
 * partial sums per block of 256 rows (computed in parallel, each block from
 * zero), folded into the float64 totals in block order afterwards. */

#define BLOCK 256
static inline int tile_w(int C) { return (C & 3) == 0 ? C : 4 * C; }

struct red_args { const f32 *x, *x2, *sub; int W, G, groups, gb, nblocks; f32 *parts; int two; };

/* parts[b][0..W) (and parts[nblocks + b] for the second sum) for blocks [b0, b1). */
static void red_blocks(void *ctx, int b0, int b1) {
  const struct red_args *a = (const struct red_args *)ctx;
  const int W = a->W;
  for (int b = b0; b < b1; b++) {
    /* restrict: distinct buffers (without it GCC does not vectorise these loops) */
    f32 *restrict part = a->parts + (size_t)b * W;
    f32 *restrict part2 = a->two ? a->parts + ((size_t)a->nblocks + b) * W : NULL;
    const f32 *restrict sub = a->sub;
    for (int i = 0; i < W; i++) part[i] = 0.0f;
    if (part2) for (int i = 0; i < W; i++) part2[i] = 0.0f;
    const int g0 = b * a->gb, g1 = g0 + a->gb < a->groups ? g0 + a->gb : a->groups;
    for (int g = g0; g < g1; g++) {
      const f32 *restrict r = a->x + (size_t)g * W;
      if (a->two) { /* bn_grad_sums: x = dy, x2 = x, sub = mean */
        const f32 *restrict r2 = a->x2 + (size_t)g * W;
        for (int i = 0; i < W; i++) {
          const f32 gv = r[i];
          const f32 xc = r2[i] - sub[i];
          part[i] = part[i] + gv;
          part2[i] = part2[i] + gv * xc;
        }
      } else if (a->sub) {
        for (int i = 0; i < W; i++) {
          f32 t = r[i] - sub[i];
          t = t * t;
          part[i] = part[i] + t;
        }
      } else {
        for (int i = 0; i < W; i++) part[i] = part[i] + r[i];
      }
    }
  }
}

static void fold_parts(const f32 *parts, int nblocks, int W, int C, double *acc) {
  for (int b = 0; b < nblocks; b++)
    for (int i = 0, c = 0; i < W; i++) {
      acc[c] += (double)parts[(size_t)b * W + i];
      if (++c == C) c = 0;
    }
}

/* As kernels.c's chan_sum / bn_grad_sums (part, the wasm scratch, unused). Returns 0 when out of memory. */
int chan_sums_native(const f32 *x, const f32 *x2, const f32 *sub, int P, int C, double *acc, double *acc2) {
  struct red_args a;
  a.W = tile_w(C);
  a.G = a.W / C;
  a.groups = P / a.G;
  a.gb = BLOCK / a.G;
  a.nblocks = (a.groups + a.gb - 1) / a.gb;
  a.x = x; a.x2 = x2; a.sub = sub; a.two = acc2 != NULL;
  a.parts = (f32 *)alloc_aligned(((size_t)a.nblocks * (a.two ? 2 : 1) + 1) * a.W * sizeof(f32));
  if (!a.parts) return 0;
  for (int c = 0; c < C; c++) { acc[c] = 0.0; if (acc2) acc2[c] = 0.0; }
  pool_run(a.nblocks, red_blocks, &a, pool_min_items(a.nblocks, 4.0 * P * C * (a.two ? 2 : 1)));
  fold_parts(a.parts, a.nblocks, a.W, C, acc);
  if (acc2) fold_parts(a.parts + (size_t)a.nblocks * a.W, a.nblocks, a.W, C, acc2);
  free_aligned(a.parts);
  for (int p = a.groups * a.G; p < P; p++) {
    const f32 *r = x + (size_t)p * C;
    if (acc2) {
      const f32 *r2 = x2 + (size_t)p * C;
      for (int c = 0; c < C; c++) {
        acc[c] += (double)r[c];
        acc2[c] += (double)(r[c] * (r2[c] - sub[c]));
      }
    } else {
      for (int c = 0; c < C; c++) {
        f32 t = r[c];
        if (sub) { t -= sub[c]; t *= t; }
        acc[c] += (double)t;
      }
    }
  }
  return 1;
}

struct aff_args { const f32 *a, *sa, *b, *sb, *shift; int P, C, W, G, groups; f32 *out; };
static void aff_rows(void *ctx, int g0, int g1) {
  const struct aff_args *p = (const struct aff_args *)ctx;
  const int W = p->W;
  const f32 *restrict sa = p->sa, *restrict sb = p->sb, *restrict shift = p->shift;
  for (int g = g0; g < g1; g++) {
    const f32 *restrict ra = p->a + (size_t)g * W;
    f32 *restrict ro = p->out + (size_t)g * W;
    if (p->b) {
      const f32 *restrict rb = p->b + (size_t)g * W;
      for (int i = 0; i < W; i++) ro[i] = (ra[i] * sa[i] + rb[i] * sb[i]) + shift[i];
    } else if (sa) {
      for (int i = 0; i < W; i++) ro[i] = ra[i] * sa[i] + shift[i];
    } else {
      for (int i = 0; i < W; i++) ro[i] = ra[i] + shift[i];
    }
  }
}

/* As kernels.c's chan_affine. */
void chan_affine_native(const f32 *a, const f32 *sa, const f32 *b, const f32 *sb, const f32 *shift, int P, int C, f32 *out) {
  struct aff_args p = {a, sa, b, sb, shift, P, C, tile_w(C), 0, 0, out};
  p.G = p.W / C;
  p.groups = P / p.G;
  pool_run(p.groups, aff_rows, &p, 256);
  for (int q = p.groups * p.G; q < P; q++) {
    const f32 *ra = a + (size_t)q * C;
    f32 *ro = out + (size_t)q * C;
    for (int c = 0; c < C; c++) {
      if (b) ro[c] = ra[c] * sa[c] + b[(size_t)q * C + c] * sb[c] + shift[c];
      else if (sa) ro[c] = ra[c] * sa[c] + shift[c];
      else ro[c] = ra[c] + shift[c];
    }
  }
}

struct norm_args { const f32 *x, *nm, *f, *sh; int W, groups; f32 *out; };
static void norm_rows(void *ctx, int g0, int g1) {
  const struct norm_args *p = (const struct norm_args *)ctx;
  const int W = p->W;
  const f32 *restrict nm = p->nm, *restrict f = p->f, *restrict sh = p->sh;
  for (int g = g0; g < g1; g++) {
    const f32 *restrict r = p->x + (size_t)g * W;
    f32 *restrict o = p->out + (size_t)g * W;
    for (int i = 0; i < W; i++) {
      const f32 t = r[i] + nm[i];
      o[i] = t * f[i] + sh[i];
    }
  }
}
/* out[p, c] = (x[p, c] + negMean[c]) * factor[c] + shift[c] in one pass (vectors tiled to W floats):
 * bit-identical to chan_affine's a + shift followed by a * sa + shift. */
void chan_norm_native(const f32 *x, const f32 *nm, const f32 *f, const f32 *sh, int P, int C, f32 *out) {
  struct norm_args p = {x, nm, f, sh, tile_w(C), 0, out};
  const int G = p.W / C;
  p.groups = P / G;
  pool_run(p.groups, norm_rows, &p, 256);
  for (int q = p.groups * G; q < P; q++)
    for (int c = 0; c < C; c++) {
      const f32 t = x[(size_t)q * C + c] + nm[c];
      out[(size_t)q * C + c] = t * f[c] + sh[c];
    }
}

struct ew_args { const f32 *dy, *x; f32 *dx; const f32 *bias; int N, relu; };
static void relu_grad_range(void *ctx, int i0, int i1) {
  const struct ew_args *e = (const struct ew_args *)ctx;
  const size_t lo = (size_t)i0 * 4096, hi0 = (size_t)i1 * 4096, hi = hi0 < (size_t)e->N ? hi0 : (size_t)e->N;
  typedef int vi __attribute__((vector_size(VW * 4)));
  size_t i = lo;
  const vf zero = (vf){0};
  for (; i + VW <= hi; i += VW) {
    const vf g = LD(e->dy + i), xv = LD(e->x + i);
    const vi pos = xv > zero, nan = xv != xv;
    const vi r = ((vi)g & pos) | ((vi)(g * zero) & ~pos);
    ST(e->dx + i, (vf)(((vi)xv & nan) | (r & ~nan)));
  }
  for (; i < hi; i++) {
    const f32 xv = e->x[i];
    e->dx[i] = xv != xv ? xv : xv > 0.0f ? e->dy[i] : e->dy[i] * 0.0f;
  }
}
/* As kernels.c's relu_grad. */
void relu_grad_native(const f32 *dy, const f32 *x, f32 *dx, int n) {
  struct ew_args e = {dy, x, dx, NULL, n, 0};
  pool_run((n + 4095) / 4096, relu_grad_range, &e, 16);
}

static void bias_act_rows(void *ctx, int r0, int r1) {
  const struct ew_args *e = (const struct ew_args *)ctx;
  const int N = e->N;
  const f32 *restrict bias = e->bias;
  for (int r = r0; r < r1; r++) {
    f32 *restrict row = e->dx + (size_t)r * N;
    if (bias && e->relu)
      for (int j = 0; j < N; j++) {
        const f32 t = row[j] + bias[j];
        row[j] = !(t > 0.0f) ? 0.0f : t;
      }
    else if (bias)
      for (int j = 0; j < N; j++) row[j] = row[j] + bias[j];
    else if (e->relu)
      for (int j = 0; j < N; j++) row[j] = !(row[j] > 0.0f) ? 0.0f : row[j];
  }
}
/* As kernels.c's bias_act (x[r, j] = act(x[r, j] + bias[j])). */
void bias_act_native(f32 *x, int R, int N, const f32 *bias, int relu) {
  struct ew_args e = {NULL, NULL, x, bias, N, relu};
  pool_run(R, bias_act_rows, &e, N >= 256 ? 16 : 4096 / (N + 1) + 1);
}

/* Adam, as src/backend/adam.ts's WebAssembly kernel (tfjs' update, float32
 * operation by operation, no contraction): m2 = m b1 + g c1;
 * v2 = v b2 + (g g) c2; w2 = ((m2 / o1) / (sqrt(v2 / o2) + eps)) negLr + w,
 * for all n elements, in blocks of 16384 over the pool. */
struct adam_args { const f32 *g, *m, *v, *w; f32 *m2, *v2, *w2; size_t n; f32 b1, b2, c1, c2, o1, o2, eps, lr; };
#define ADAM_BLOCK 16384
static void adam_range(void *ctx, int i0, int i1) {
  const struct adam_args *a = (const struct adam_args *)ctx;
  const size_t lo = (size_t)i0 * ADAM_BLOCK, hi0 = (size_t)i1 * ADAM_BLOCK, hi = hi0 < a->n ? hi0 : a->n;
  const f32 b1 = a->b1, b2 = a->b2, c1 = a->c1, c2 = a->c2, o1 = a->o1, o2 = a->o2, eps = a->eps, lr = a->lr;
  const f32 *restrict g = a->g, *restrict m = a->m, *restrict v = a->v, *restrict w = a->w;
  f32 *restrict m2 = a->m2, *restrict v2 = a->v2, *restrict w2 = a->w2;
  for (size_t k = lo; k < hi; k++) {
    const f32 gk = g[k];
    const f32 mk = m[k] * b1 + gk * c1;
    const f32 vk = v[k] * b2 + (gk * gk) * c2;
    m2[k] = mk;
    v2[k] = vk;
    w2[k] = ((mk / o1) / (__builtin_sqrtf(vk / o2) + eps)) * lr + w[k];
  }
}
void adam_native(const f32 *g, const f32 *m, const f32 *v, const f32 *w, f32 *m2, f32 *v2, f32 *w2, size_t n, f32 b1, f32 b2, f32 c1, f32 c2, f32 o1,
                 f32 o2, f32 eps, f32 lr) {
  struct adam_args a = {g, m, v, w, m2, v2, w2, n, b1, b2, c1, c2, o1, o2, eps, lr};
  pool_run((int)((n + ADAM_BLOCK - 1) / ADAM_BLOCK), adam_range, &a, 4);
}

/* Same-shape elementwise a + b (op 0) or a * b (op 1) over n floats: one
 * IEEE operation per element (the same values as tfjs-wasm's Add / Multiply),
 * in blocks of 16384 over the pool. */
struct ewb_args { const f32 *a, *b; f32 *out; size_t n; int op; };
static void ewb_range(void *ctx, int i0, int i1) {
  const struct ewb_args *e = (const struct ewb_args *)ctx;
  const size_t lo = (size_t)i0 * ADAM_BLOCK, hi0 = (size_t)i1 * ADAM_BLOCK, hi = hi0 < e->n ? hi0 : e->n;
  const f32 *restrict a = e->a, *restrict b = e->b;
  f32 *restrict o = e->out;
  if (e->op == 0)
    for (size_t k = lo; k < hi; k++) o[k] = a[k] + b[k];
  else
    for (size_t k = lo; k < hi; k++) o[k] = a[k] * b[k];
}
void ew_binary_native(const f32 *a, const f32 *b, f32 *out, size_t n, int op) {
  struct ewb_args e = {a, b, out, n, op};
  pool_run((int)((n + ADAM_BLOCK - 1) / ADAM_BLOCK), ewb_range, &e, 2);
}

/* SegNet's 2x2 max-unpooling (src/models/blocks/unpool.ts) in one pass each
 * way. For every 2x2 window of x[N, H, W, C] (H, W even) and channel, k = the
 * first position (row-major) equal to the window maximum (none when the
 * maximum is NaN); forward out[window position p] = v[window] * (p == k),
 * backward dv[window] = (dy00 m00 + dy10 m10) + (dy01 m01 + dy11 m11) with
 * m = (p == k): the float32 operations of the composed tfjs ops. Work items:
 * window rows (n, i). */
struct unp_args { const f32 *x, *v; f32 *out; int N, H, W, C, bwd; };
static void unp_rows(void *ctx, int r0, int r1) {
  const struct unp_args *a = (const struct unp_args *)ctx;
  const int W = a->W, C = a->C, Wh = W / 2, Hh = a->H / 2;
  for (int r = r0; r < r1; r++) {
    const int n = r / Hh, i = r % Hh;
    const f32 *x0 = a->x + (((size_t)n * a->H + 2 * i) * W) * C, *x1 = x0 + (size_t)W * C;
    for (int j = 0; j < Wh; j++) {
      const size_t o0 = (size_t)(2 * j) * C, o1 = o0 + C;
      const size_t vi = (((size_t)n * Hh + i) * Wh + j) * C;
      for (int c = 0; c < C; c++) {
        const f32 e00 = x0[o0 + c], e01 = x0[o1 + c], e10 = x1[o0 + c], e11 = x1[o1 + c];
        f32 m = e00;
        if (e01 > m) m = e01;
        if (e10 > m) m = e10;
        if (e11 > m) m = e11;
        const int k = e00 == m ? 0 : e01 == m ? 1 : e10 == m ? 2 : e11 == m ? 3 : 4;
        const f32 m00 = k == 0, m01 = k == 1, m10 = k == 2, m11 = k == 3;
        if (a->bwd) {
          const f32 *d0 = a->v + (((size_t)n * a->H + 2 * i) * W) * C, *d1 = d0 + (size_t)W * C;
          a->out[vi + c] = (d0[o0 + c] * m00 + d1[o0 + c] * m10) + (d0[o1 + c] * m01 + d1[o1 + c] * m11);
        } else {
          f32 *y0 = a->out + (((size_t)n * a->H + 2 * i) * W) * C, *y1 = y0 + (size_t)W * C;
          const f32 val = a->v[vi + c];
          y0[o0 + c] = val * m00;
          y0[o1 + c] = val * m01;
          y1[o0 + c] = val * m10;
          y1[o1 + c] = val * m11;
        }
      }
    }
  }
}
/* bwd 0: out[N,H,W,C] from v[N,H/2,W/2,C]; bwd 1: v is dy[N,H,W,C], out dv[N,H/2,W/2,C]. */
void unpool2x2_native(const f32 *x, const f32 *v, f32 *out, int N, int H, int W, int C, int bwd) {
  struct unp_args a = {x, v, out, N, H, W, C, bwd};
  const int rows = N * (H / 2);
  pool_run(rows, unp_rows, &a, pool_min_items(rows, 12.0 * N * H * W * C));
}

/* outer runs of len 4-byte elements: dst[b*dstStride + k] = src[b*srcStride + k]
 * (Concat / SplitV of src/backend/layout-kernels), runs split over the pool. */
struct runs_args { const uint32_t *src; uint32_t *dst; size_t sstride, dstride, len; };
static void runs_items(void *ctx, int b0, int b1) {
  const struct runs_args *a = (const struct runs_args *)ctx;
  for (int b = b0; b < b1; b++) memcpy(a->dst + (size_t)b * a->dstride, a->src + (size_t)b * a->sstride, a->len * 4);
}
void copy_runs_native(const void *src, size_t sstride, void *dst, size_t dstride, size_t len, int outer) {
  struct runs_args a = {(const uint32_t *)src, (uint32_t *)dst, sstride, dstride, len};
  pool_run(outer, runs_items, &a, pool_min_items(outer, 8.0 * len * outer));
}

/* PReLU gradient with a per-channel slope, as kernels.c's prelu_grad:
 * dx = dy where x > 0, dy alpha elsewhere; dalpha[c] = sum over rows with
 * !(x > 0) of dy x, as float32 partials per block of 256 rows (each from zero;
 * blocks computed in parallel) added into float64 totals in block order:
 * the same values as the wasm kernel. */
struct prelu_args { const f32 *dy, *x, *alpha; int P, C, nblocks; f32 *dx, *parts; };
static void prelu_blocks(void *ctx, int b0, int b1) {
  const struct prelu_args *a = (const struct prelu_args *)ctx;
  const int C = a->C, CV = C - C % VW;
  typedef int vi __attribute__((vector_size(VW * 4)));
  const vf zero = (vf){0};
  for (int b = b0; b < b1; b++) {
    f32 *part = a->parts + (size_t)b * C;
    for (int c = 0; c < C; c++) part[c] = 0.0f;
    const int p1 = (b + 1) * BLOCK < a->P ? (b + 1) * BLOCK : a->P;
    for (int p = b * BLOCK; p < p1; p++) {
      const f32 *d = a->dy + (size_t)p * C, *r = a->x + (size_t)p * C;
      f32 *o = a->dx + (size_t)p * C;
      int c = 0;
      for (; c < CV; c += VW) {
        const vf g = LD(d + c), xv = LD(r + c);
        const vi pos = xv > zero;
        ST(o + c, (vf)(((vi)g & pos) | ((vi)(g * LD(a->alpha + c)) & ~pos)));
        ST(part + c, LD(part + c) + (vf)((vi)(g * xv) & ~pos));
      }
      for (; c < C; c++) {
        const int pos = r[c] > 0.0f;
        o[c] = pos ? d[c] : d[c] * a->alpha[c];
        part[c] = part[c] + (pos ? 0.0f : d[c] * r[c]);
      }
    }
  }
}
int prelu_grad_native(const f32 *dy, const f32 *x, const f32 *alpha, int P, int C, f32 *dx, double *acc) {
  struct prelu_args a = {dy, x, alpha, P, C, (P + BLOCK - 1) / BLOCK, dx, NULL};
  for (int c = 0; c < C; c++) acc[c] = 0.0;
  if (P == 0 || C == 0) return 1;
  a.parts = (f32 *)alloc_aligned((size_t)a.nblocks * C * sizeof(f32));
  if (!a.parts) return 0;
  pool_run(a.nblocks, prelu_blocks, &a, pool_min_items(a.nblocks, 6.0 * P * C));
  for (int b = 0; b < a.nblocks; b++)
    for (int c = 0; c < C; c++) acc[c] += (double)a.parts[(size_t)b * C + c];
  free_aligned(a.parts);
  return 1;
}
#endif
