package netstate

import (
	"bytes"
	"math"
	"strconv"
)

// Figure is a measured number that may be absent. Modems and drivers report
// only some of RSRP, RSRQ, SINR and friends, and "absent" must never read as
// zero: 0 dBm would be a perfect signal.
type Figure struct {
	V  float64
	OK bool
}

// Some returns a present figure. NaN and infinities count as absent, so a
// broken driver value can never become a threshold comparison.
func Some(v float64) Figure {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Figure{}
	}
	return Figure{V: v, OK: true}
}

// IsZero reports absence, which lets `omitzero` drop absent figures from JSON.
func (f Figure) IsZero() bool { return !f.OK }

// String formats the figure with at most one decimal, or "-" when absent.
func (f Figure) String() string {
	if !f.OK {
		return "-"
	}
	return strconv.FormatFloat(math.Round(f.V*10)/10, 'f', -1, 64)
}

// MarshalJSON writes the number, or null when absent.
func (f Figure) MarshalJSON() ([]byte, error) {
	if !f.OK {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(f.V*100)/100, 'f', -1, 64), nil
}

// UnmarshalJSON reads a number or null.
func (f *Figure) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = Figure{}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Some(v)
	return nil
}
