package report

import "testing"

// A fact is listed when it moved by a quarter, either way, and by more
// than its unit's noise floor.
func TestMoved(t *testing.T) {
	for _, tc := range []struct {
		before, after float64
		unit          string
		want          bool
	}{
		{0, 99.7, "%", true},            // from nothing
		{0, 0.004, "%", false},          // from nothing, within a point
		{50, 62, "%", false},            // up by a fifth only
		{50, 63, "%", true},             // by a quarter
		{100, 30, "ms", true},           // down
		{0.998, 0, "per second", false}, // less than one a second
		{4096, 0, "bytes", false},       // less than 64 KiB
		{0, 0.5, "", true},              // half a thread
		{-1, 1, "", true},               // across zero
		{3, 3, "", false},
	} {
		if got := moved(tc.before, tc.after, tc.unit); got != tc.want {
			t.Errorf("moved(%v, %v, %q) = %v, want %v", tc.before, tc.after, tc.unit, got, tc.want)
		}
	}
}

// The larger factor ranks first; from zero counts against the noise floor.
func TestScore(t *testing.T) {
	r := func(x float64) *float64 { return &x }
	doubled := Change{Before: 10, After: 20, Unit: "ms", Ratio: r(2)}
	tenfold := Change{Before: 10, After: 1, Unit: "ms", Ratio: r(0.1)}
	fromZero := Change{Before: 0, After: 99, Unit: "%"}
	if !(score(tenfold) > score(doubled) && score(fromZero) > score(tenfold)) {
		t.Errorf("scores: doubled %v, tenfold down %v, 0→99%% %v", score(doubled), score(tenfold), score(fromZero))
	}
}
