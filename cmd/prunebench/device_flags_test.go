package main

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"2GiB", 2 << 30, false},
		{"512 MiB", 512 << 20, false},
		{"1.5GB", 1_500_000_000, false},
		{"100", 100, false},
		{"2 gib", 2 << 30, false},
		{"-1GiB", 0, true},
		{"2GX", 0, true},
		{"GiB", 0, true},
	} {
		got, err := parseBytes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
	var n int64
	v := bytesValue{p: &n, name: "min-free-mem"}
	if err := v.Set("lots"); err == nil || !strings.Contains(err.Error(), `--min-free-mem "lots"`) || !strings.Contains(err.Error(), "2GiB") {
		t.Errorf("bad size error %v, want it to name the flag and an example", err)
	}
}
