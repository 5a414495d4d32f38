/* fma_peak: the FP32 FMA peak of this machine, for compare.sh's "% of peak".
 *
 * 1) estimates the core clock with a chain of dependent 1-cycle adds;
 * 2) measures FMA throughput with 12 independent accumulator chains, with
 *    256-bit vectors (AVX2 + FMA) and, where the CPU has AVX-512F, 512-bit
 *    ones, on 1 and 2 threads (OpenMP).
 *
 * Unlike the peer's probe it needs no -march=native: each width is compiled
 * for its own target and chosen at run time, so the same build runs on a
 * Zen 3 (AVX2 only) and a Zen 4 (AVX-512). Output: one JSON line with
 * "cpu_flags", "clock_ghz_est", "fma256_t{1,2}_gflops" and, with AVX-512,
 * "fma512_t{1,2}_gflops" ("peak_t2_gflops" is the best 2-thread figure).
 *
 * Build: gcc -O2 -fopenmp bench/fma_peak.c -o fma_peak
 */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double clock_ghz(void) {
	const uint64_t iters = 200000000ULL; /* 10 dependent adds per iteration */
	uint64_t x = 0, i = iters;
	double t0 = now();
	__asm__ volatile(
	    "1:\n\t"
	    "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t"
	    "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t"
	    "add $1, %0\n\t" "add $1, %0\n\t"
	    "dec %1\n\t" "jnz 1b\n\t"
	    : "+r"(x), "+r"(i));
	return 10.0 * iters / (now() - t0) / 1e9;
}

#define CH 12

__attribute__((target("avx512f"))) static float fma512(uint64_t iters) {
	__m512 a[CH], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
	for (int k = 0; k < CH; k++) a[k] = _mm512_set1_ps((float)k);
	for (uint64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
		for (int k = 0; k < CH; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
	}
	__m512 s = a[0];
	for (int k = 1; k < CH; k++) s = _mm512_add_ps(s, a[k]);
	return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma256(uint64_t iters) {
	__m256 a[CH], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
	for (int k = 0; k < CH; k++) a[k] = _mm256_set1_ps((float)k);
	for (uint64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
		for (int k = 0; k < CH; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
	}
	__m256 s = a[0];
	for (int k = 1; k < CH; k++) s = _mm256_add_ps(s, a[k]);
	float o[8];
	_mm256_storeu_ps(o, s);
	return o[0] + o[7];
}

static double run(int width, int threads, uint64_t iters) {
	volatile float sink = 0;
	double t0 = now();
#pragma omp parallel num_threads(threads)
	{
		float r = width == 512 ? fma512(iters) : fma256(iters);
#pragma omp atomic
		sink += r;
	}
	double t = now() - t0;
	return 2.0 * (width / 32) * CH * (double)iters * threads / t / 1e9;
}

int main(void) {
	__builtin_cpu_init();
	int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	int has512 = __builtin_cpu_supports("avx512f");
	if (!has256) {
		fprintf(stderr, "fma_peak: this CPU has no AVX2+FMA\n");
		return 1;
	}
	double ghz = clock_ghz();
	ghz = clock_ghz();
	printf("{\"cpu_flags\": \"avx2 fma%s\", \"clock_ghz_est\": %.3f", has512 ? " avx512f" : "", ghz);
	const uint64_t iters = 100000000ULL;
	double peak = 0;
	for (int width = 256; width <= 512; width *= 2) {
		if (width == 512 && !has512) break;
		for (int th = 1; th <= 2; th++) {
			double best = 0;
			for (int r = 0; r < 3; r++) {
				double g = run(width, th, iters);
				if (g > best) best = g;
			}
			if (th == 2 && best > peak) peak = best;
			printf(", \"fma%d_t%d_gflops\": %.2f, \"fma%d_t%d_flop_per_cycle_per_core\": %.2f",
			       width, th, best, width, th, best / th / ghz);
		}
	}
	printf(", \"peak_t2_gflops\": %.2f}\n", peak);
	return 0;
}
