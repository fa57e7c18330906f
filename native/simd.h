// Hot element-wise loops are compiled once per instruction set and picked at load time (GCC function
// multi-versioning): the addon itself is built for baseline x86-64 so it runs anywhere, and without this the
// vectorised loops would be limited to 4-wide SSE.
#pragma once

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define GRAFTREC_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define GRAFTREC_SIMD_CLONES
#endif
