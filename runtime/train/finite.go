package train

import (
	"fmt"
	"math"
	"strings"
)

// checkFinite rejects a loaded tensor that holds a NaN or an infinity:
// weights like that (a diverged run saved, a corrupt file) would make
// every output NaN without saying why. The error names the file, the
// tensor and how many of its elements are bad.
func checkFinite(path, name string, v []float32) error {
	var nan, inf int
	for _, x := range v {
		switch {
		case x != x:
			nan++
		case math.IsInf(float64(x), 0):
			inf++
		}
	}
	if nan == 0 && inf == 0 {
		return nil
	}
	var parts []string
	if nan > 0 {
		parts = append(parts, fmt.Sprintf("%d NaN", nan))
	}
	if inf > 0 {
		parts = append(parts, fmt.Sprintf("%d infinite", inf))
	}
	return fmt.Errorf("%s: tensor %s holds %s of its %d elements; these weights cannot be used", path, name, strings.Join(parts, " and "), len(v))
}
