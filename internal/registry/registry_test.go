package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[int]("model")
	for i, n := range []string{"resnet20", "lenet5", "lenet-300-100"} {
		r.Register(n, i)
	}
	if got, want := r.Names(), []string{"lenet-300-100", "lenet5", "resnet20"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if v, err := r.Get("lenet5"); err != nil || v != 1 {
		t.Errorf("Get(lenet5) = %v, %v; want 1", v, err)
	}
	_, err := r.Get("lenet6")
	var u *UnknownError
	if !errors.As(err, &u) || u.Name != "lenet6" {
		t.Fatalf("Get(lenet6) error = %v, want an *UnknownError", err)
	}
	for _, want := range []string{`unknown model "lenet6"`, `did you mean "lenet5"?`, "want one of lenet-300-100, lenet5, resnet20"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := r.Get("vgg"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("Get(vgg) = %v: want an error without a suggestion", err)
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, reg := range map[string]func(r *Registry[int]){
		"duplicate": func(r *Registry[int]) { r.Register("a", 1); r.Register("a", 2) },
		"empty":     func(r *Registry[int]) { r.Register("", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			reg(New[int]("thing"))
		})
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"training.lr", "training.lr_schedule", "snip", "synflow", "grasp"}
	for _, tc := range []struct{ name, want string }{
		{"snp", "snip"},
		{"synflw", "synflow"},
		{"grsp", "grasp"},
		{"training.lr", "training.lr"},
		{"xyz", ""},
	} {
		if got := Closest(tc.name, cands); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"lr", "lr", 0}, {"lr", "lrr", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"snip", "snip", 0},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
