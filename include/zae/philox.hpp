// Philox-4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011), callable from host and device. A draw is a pure function of
// (key, counter), so the CPU and GPU paths produce the same numbers for the same
// (seed, step, sample, feature) without sharing generator state.
#pragma once

#include <cmath>
#include <cstdint>

#include "zae/hostdevice.hpp"

namespace zae {

struct Philox4 {
  uint32_t v[4];
};

ZAE_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

// Ten Philox rounds of the 4x32 counter under the 2x32 key.
ZAE_HD Philox4 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                          uint32_t k1) {
  const uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  const uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kMul0, c0, hi0, lo0);
    philox_mulhilo(kMul1, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n1 = lo1;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    const uint32_t n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in (0, 1], 24 bits of mantissa, from one 32-bit word.
ZAE_HD float philox_uniform(uint32_t word) {
  return (static_cast<float>(word >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

// Uniform in [0, 1) with 53 bits from two words, for host-side draws in double.
ZAE_HD double philox_uniform_double(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ static_cast<uint64_t>(lo >> 11);
  return static_cast<double>(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller from two words.
ZAE_HD float philox_normal(uint32_t w0, uint32_t w1) {
  const float u1 = philox_uniform(w0);
  const float u2 = philox_uniform(w1);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

// Splits a 64-bit seed into the two key words.
ZAE_HD uint32_t seed_low(uint64_t seed) { return static_cast<uint32_t>(seed); }
ZAE_HD uint32_t seed_high(uint64_t seed) { return static_cast<uint32_t>(seed >> 32); }

// Stream identifiers, so that draws for different purposes never share counters.
enum class RandomStream : uint32_t { Shuffle = 1, InitWeights = 2, InitPatches = 3, Patches = 4,
                                     Corruption = 5 };

}  // namespace zae
