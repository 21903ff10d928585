//go:build !wasip1

package sdk

import (
	"errors"
	"testing"
)

// TestInput: what each call sends and how it reads the host's answer or
// refusal.
func TestInput(t *testing.T) {
	var sent string
	var a asker // the test's stand-in for the host import
	reply := func(doc string, code uint32) {
		a = func(req []byte) ([]byte, uint32) {
			sent = string(req)
			return []byte(doc), code
		}
	}

	reply(`{"ok":{"action":"accept","content":{"confirm":true}}}`, 0)
	if ok, err := a.confirm("ok", "Replace a.txt?"); !ok || err != nil {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
	if want := `{"ok":{"method":"elicitation/create","params":{"message":"Replace a.txt?","requestedSchema":{"properties":{"confirm":{"default":false,"title":"Confirm","type":"boolean"}},"required":["confirm"],"type":"object"}}}}`; sent != want {
		t.Fatalf("sent %s\nwant %s", sent, want)
	}
	for _, tc := range []struct{ name, doc string }{
		{"declined", `{"ok":{"action":"decline"}}`},
		{"accepted unticked", `{"ok":{"action":"accept","content":{"confirm":false}}}`},
		{"accepted, wrong type", `{"ok":{"action":"accept","content":{"confirm":"yes"}}}`},
	} {
		reply(tc.doc, 0)
		if ok, err := a.confirm("ok", "?"); ok || err != nil {
			t.Errorf("%s: Confirm = %v, %v", tc.name, ok, err)
		}
	}

	reply(`{"q":{"role":"assistant","content":{"type":"text","text":"Paris"},"model":"m"}}`, 0)
	if text, err := a.sample("q", "Capital of France?", 10); text != "Paris" || err != nil {
		t.Fatalf("Sample = %q, %v", text, err)
	}
	reply(`{"q":{"role":"assistant","content":[{"type":"text","text":"Pa"},{"type":"text","text":"ris"}],"model":"m"}}`, 0)
	if text, _ := a.sample("q", "?", 10); text != "Paris" {
		t.Fatalf("Sample with content blocks = %q", text)
	}
	reply(`{"r":{"roots":[{"uri":"file:///w","name":"work"}]}}`, 0)
	if roots, err := a.roots("r"); err != nil || len(roots) != 1 || roots[0].URI != "file:///w" || roots[0].Name != "work" {
		t.Fatalf("Roots = %+v, %v", roots, err)
	}
	if sent != `{"r":{"method":"roots/list","params":{}}}` {
		t.Fatalf("Roots sent %s", sent)
	}

	for _, tc := range []struct {
		name string
		doc  string
		code uint32
		want string
		keys int
	}{
		{"unsupported", `["ok"]`, InputErrUnsupported, "input: the client cannot answer ok", 1},
		{"bad request", ``, InputErrBadRequest, "input: the request is malformed", 0},
		{"failed", ``, InputErrFailed, "input: the client did not answer", 0},
		{"unknown code", ``, 99, "input: the request failed (code 99)", 0},
		{"answer not JSON", `nope`, 0, "input: the client did not answer", 0},
	} {
		reply(tc.doc, tc.code)
		_, err := a.confirm("ok", "?")
		var ie *InputError
		if !errors.As(err, &ie) || err.Error() != tc.want || len(ie.Keys) != tc.keys {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestInputOutsideMoat(t *testing.T) {
	if _, err := Confirm("ok", "?"); !errors.Is(err, &InputError{Code: InputErrUnsupported}) {
		t.Errorf("err = %v, want InputErrUnsupported", err)
	}
}
