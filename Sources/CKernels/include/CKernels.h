// Element-wise kernels of the transformer's hot loops (exact-erf GELU and its gradient, the
// row-wise softmax cross-entropy), in C so that x86-64 machines get an AVX2 + FMA build chosen at
// run time (`__attribute__((target))`): Swift has no per-function target, and the package's
// default build targets baseline x86-64 (SSE2). Other machines get the portable loops.
// The Swift wrappers (Linalg/FastMath.swift) document the contracts.
#ifndef PINRETRIEVAL_CKERNELS_H
#define PINRETRIEVAL_CKERNELS_H

#include <stddef.h>

/// out[i] = x Φ(x), x = input[i], for i in 0..<count.
void pr_gelu_forward(float *out, const float *input, size_t count);

/// dInput[i] (+)= dOut[i] (Φ(x) + x φ(x)); overwrites when `overwrite` is nonzero.
void pr_gelu_backward(float *dInput, const float *dOut, const float *input, size_t count, int overwrite);

/// One row of weighted softmax cross-entropy: returns weight · (log Σ_j e^{row_j} − row_target)
/// and overwrites row with weight · (softmax − onehot(target)). Entries of -inf get probability 0.
double pr_cross_entropy_row(float *row, size_t classes, size_t target, float weight);

/// The portable versions of the three kernels (what machines without AVX2 run), for the tests.
void pr_gelu_forward_portable(float *out, const float *input, size_t count);
void pr_gelu_backward_portable(float *dInput, const float *dOut, const float *input, size_t count, int overwrite);
double pr_cross_entropy_row_portable(float *row, size_t classes, size_t target, float weight);

#endif
