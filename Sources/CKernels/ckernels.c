#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// Exponential: Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial, the
// exponent set directly; relative error about 1e-7); inputs below -87.3 (and -inf) give 0.
// erf: Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), with exp(-z²) shared with
// GELU's density in the backward pass. Same formulas as Linalg's Swift fastExp / fastErf.
#define EXP_LOW -87.3f
#define EXP_HIGH 88.3f
#define INV_SQRT2 0.70710677f
#define INV_SQRT_2PI 0.39894228f

static inline float exp_scalar(float x) {
  if (x < EXP_LOW) return 0.0f;
  if (x > EXP_HIGH) x = EXP_HIGH;
  float n = nearbyintf(x * 1.44269504f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// erf(z) given e = exp(-z²).
static inline float erf_scalar(float z, float e) {
  float sign = z < 0 ? -1.0f : 1.0f;
  float a = z * sign;
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  return sign * (1.0f - y * t * e);
}

static void gelu_forward_portable(float *out, const float *input, size_t count) {
  for (size_t i = 0; i < count; i++) {
    float x = input[i], z = x * INV_SQRT2;
    out[i] = 0.5f * x * (1.0f + erf_scalar(z, exp_scalar(-z * z)));
  }
}

static void gelu_backward_portable(float *dInput, const float *dOut, const float *input, size_t count,
                                   int overwrite) {
  for (size_t i = 0; i < count; i++) {
    float x = input[i], z = x * INV_SQRT2, e = exp_scalar(-z * z);
    float g = dOut[i] * (0.5f * (1.0f + erf_scalar(z, e)) + x * INV_SQRT_2PI * e);
    dInput[i] = overwrite ? g : dInput[i] + g;
  }
}

static double cross_entropy_portable(float *row, size_t classes, size_t target, float weight) {
  float maximum = -INFINITY;
  for (size_t j = 0; j < classes; j++) maximum = row[j] > maximum ? row[j] : maximum;
  float targetLogit = row[target];
  double sum = 0;
  for (size_t j = 0; j < classes; j++) {
    row[j] = exp_scalar(row[j] - maximum);
    sum += row[j];
  }
  float scale = weight / (float)sum;
  for (size_t j = 0; j < classes; j++) row[j] *= scale;
  row[target] -= weight;
  return (double)weight * (double)((float)log(sum) + maximum - targetLogit);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp_avx2(__m256 input) {
  __m256 low = _mm256_set1_ps(EXP_LOW);
  __m256 x = _mm256_min_ps(_mm256_max_ps(input, low), _mm256_set1_ps(EXP_HIGH));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 z = _mm256_mul_ps(r, r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, r), _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 result = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
  // Below the range (and -inf): exactly 0.
  return _mm256_andnot_ps(_mm256_cmp_ps(input, low, _CMP_LT_OQ), result);
}

AVX2 static inline __m256 erf_avx2(__m256 z, __m256 e) {
  __m256 signBit = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
  __m256 a = _mm256_xor_ps(z, signBit);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, _mm256_set1_ps(1.0f)));
  __m256 y = _mm256_set1_ps(1.061405429f);
  y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(-1.453152027f));
  y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(1.421413741f));
  y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(-0.284496736f));
  y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(0.254829592f));
  __m256 magnitude = _mm256_fnmadd_ps(_mm256_mul_ps(y, t), e, _mm256_set1_ps(1.0f));
  return _mm256_xor_ps(magnitude, signBit);
}

// Φ(x) = (1 + erf(x/√2)) / 2; *e receives exp(-x²/2), which the density shares.
AVX2 static inline __m256 gelu_cdf_avx2(__m256 x, __m256 *e) {
  __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(INV_SQRT2));
  *e = exp_avx2(_mm256_mul_ps(_mm256_xor_ps(z, _mm256_set1_ps(-0.0f)), z));
  return _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(_mm256_set1_ps(1.0f), erf_avx2(z, *e)));
}

AVX2 static void gelu_forward_avx2(float *out, const float *input, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 x = _mm256_loadu_ps(input + i), e;
    _mm256_storeu_ps(out + i, _mm256_mul_ps(x, gelu_cdf_avx2(x, &e)));
  }
  gelu_forward_portable(out + i, input + i, count - i);
}

AVX2 static void gelu_backward_avx2(float *dInput, const float *dOut, const float *input, size_t count,
                                    int overwrite) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 x = _mm256_loadu_ps(input + i), e;
    __m256 cdf = gelu_cdf_avx2(x, &e);
    __m256 derivative = _mm256_fmadd_ps(_mm256_mul_ps(x, _mm256_set1_ps(INV_SQRT_2PI)), e, cdf);
    __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dOut + i), derivative);
    if (!overwrite) g = _mm256_add_ps(g, _mm256_loadu_ps(dInput + i));
    _mm256_storeu_ps(dInput + i, g);
  }
  gelu_backward_portable(dInput + i, dOut + i, input + i, count - i, overwrite);
}

AVX2 static double cross_entropy_avx2(float *row, size_t classes, size_t target, float weight) {
  size_t vectors = classes / 8, j;
  __m256 maxVector = _mm256_set1_ps(-INFINITY);
  for (j = 0; j < vectors; j++) maxVector = _mm256_max_ps(maxVector, _mm256_loadu_ps(row + 8 * j));
  float lanes[8];
  _mm256_storeu_ps(lanes, maxVector);
  float maximum = -INFINITY;
  for (int l = 0; l < 8; l++) maximum = lanes[l] > maximum ? lanes[l] : maximum;
  for (j = 8 * vectors; j < classes; j++) maximum = row[j] > maximum ? row[j] : maximum;
  float targetLogit = row[target];
  __m256 m = _mm256_set1_ps(maximum);
  __m256 sumVector = _mm256_setzero_ps();
  for (j = 0; j < vectors; j++) {
    __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + 8 * j), m));
    _mm256_storeu_ps(row + 8 * j, e);
    sumVector = _mm256_add_ps(sumVector, e);
  }
  _mm256_storeu_ps(lanes, sumVector);
  double sum = 0;
  for (int l = 0; l < 8; l++) sum += lanes[l];
  for (j = 8 * vectors; j < classes; j++) {
    row[j] = exp_scalar(row[j] - maximum);
    sum += row[j];
  }
  float scale = weight / (float)sum;
  __m256 s = _mm256_set1_ps(scale);
  for (j = 0; j < vectors; j++) _mm256_storeu_ps(row + 8 * j, _mm256_mul_ps(s, _mm256_loadu_ps(row + 8 * j)));
  for (j = 8 * vectors; j < classes; j++) row[j] *= scale;
  row[target] -= weight;
  return (double)weight * (double)((float)log(sum) + maximum - targetLogit);
}

// Read per call (a load from the CPU model the runtime fills in at start-up): no state, no race.
static int use_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
static int use_avx2(void) { return 0; }
#define gelu_forward_avx2 gelu_forward_portable
#define gelu_backward_avx2 gelu_backward_portable
#define cross_entropy_avx2 cross_entropy_portable
#endif

void pr_gelu_forward_portable(float *out, const float *input, size_t count) {
  gelu_forward_portable(out, input, count);
}

void pr_gelu_backward_portable(float *dInput, const float *dOut, const float *input, size_t count, int overwrite) {
  gelu_backward_portable(dInput, dOut, input, count, overwrite);
}

double pr_cross_entropy_row_portable(float *row, size_t classes, size_t target, float weight) {
  return cross_entropy_portable(row, classes, target, weight);
}

void pr_gelu_forward(float *out, const float *input, size_t count) {
  if (use_avx2()) gelu_forward_avx2(out, input, count);
  else gelu_forward_portable(out, input, count);
}

void pr_gelu_backward(float *dInput, const float *dOut, const float *input, size_t count, int overwrite) {
  if (use_avx2()) gelu_backward_avx2(dInput, dOut, input, count, overwrite);
  else gelu_backward_portable(dInput, dOut, input, count, overwrite);
}

double pr_cross_entropy_row(float *row, size_t classes, size_t target, float weight) {
  return use_avx2() ? cross_entropy_avx2(row, classes, target, weight)
                    : cross_entropy_portable(row, classes, target, weight);
}
