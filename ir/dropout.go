package ir

// DropoutKeep reports whether dropout with probability p keeps element i
// (row-major index) of a tensor at the given seed and step. It is the
// definition of the dropout mask that every backend reproduces:
//
//	h = mix(mix(mix(seed) ^ step) + i)        (uint64 arithmetic)
//	u = (h >> 11) · 2⁻⁵³                      (uniform in [0,1))
//	keep = u >= p
//
// where mix is SplitMix64's finalizer applied to x + 0x9E3779B97F4A7C15.
func DropoutKeep(seed, step int64, i int, p float64) bool {
	h := mix64(mix64(mix64(uint64(seed))^uint64(step)) + uint64(i))
	u := float64(h>>11) * (1.0 / (1 << 53))
	return u >= p
}

func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}
