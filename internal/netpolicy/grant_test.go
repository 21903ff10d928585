package netpolicy

import (
	"reflect"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
)

func TestConfigFor(t *testing.T) {
	g := &manifest.NetGrant{
		Allow: []string{"a.test"}, Methods: []string{"GET", "POST"}, HTTPHosts: []string{"a.test"}, AllowIPs: []string{"10.0.0.0/8"},
		MaxRequest: 1, MaxResponse: 2, Timeout: 3 * time.Second, MaxRedirects: 0,
		Headers: []manifest.NetHeader{{Host: "a.test", Name: "X-Key", Value: "s", From: "env K"}},
	}
	want := Config{
		Allow: []string{"a.test"}, Methods: []string{"GET", "POST"}, HTTPHosts: []string{"a.test"}, AllowIPs: []string{"10.0.0.0/8"},
		MaxRequest: 1, MaxResponse: 2, Timeout: 3 * time.Second, MaxRedirects: 0,
		Headers: []Header{{Host: "a.test", Name: "X-Key", Value: "s"}},
	}
	got := ConfigFor(g)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFor = %+v, want %+v", got, want)
	}
	p, err := New(got)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}
